"""/api/v1/units/{code}/summary, /flags, /trend: how far a unit is from its plan.

Computed responses are cached per worker until the database changes (app/core/cache.py):
a repeated request is answered without touching the database. ``X-Cache`` says which;
``Cache-Control: no-cache`` forces a recomputation.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import MAX_OFFSET, Page
from app.core.cache import Subject, cache_key, wants_fresh
from app.core.db import Database, write_intent
from app.core.errors import problem_responses
from app.core.types import WholeNumber
from app.reports import service
from app.reports.models import FlagName, FlagRow, Summary, SummaryRow
from app.targets.service import ensure_above_commune, resolve_unit_above_commune
from app.units import service as units_service
from app.units.models import CODE_REGEX

router = APIRouter(prefix="/units/{code}", tags=["Summaries and flags"])

UnitCode = Annotated[
    str, Path(pattern=CODE_REGEX, description="A district, province or `VN`", examples=["084"])
]
YearQuery = Annotated[WholeNumber, Query(ge=1900, le=2100, description="The year", examples=[2021])]
ApprovedOnly = Annotated[
    bool, Query(description="Count only approved assessments (a commune's latest approved one up to the year)")
]
FLAGS_MAX = 5000
# what CachedReportsMiddleware may answer from the cache, and the query parameter holding the last year covered
REPORT_PATHS = re.compile(r"/api/v1/units/(?P<code>[^/]+)/(?P<report>summary|flags|trend)")
LAST_YEAR_PARAM = {"summary": "year", "flags": "year", "trend": "to"}


def report_subject(path: str, query_string: bytes) -> Subject | None:
    """What a cached report is about (``app/core/cache.py``): its unit, and the last year it covers —
    a summary's or flags' ``year``, a trend's ``to`` (absent: every year, as a later year's data
    can extend the trend). A parameter given twice, or not a year, counts as every year; None: not
    a cached report path."""
    match = REPORT_PATHS.fullmatch(path)
    if match is None:
        return None
    name = LAST_YEAR_PARAM[match.group("report")]
    values = [v for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True) if k == name]
    last = int(values[0]) if len(values) == 1 and values[0].isascii() and values[0].isdigit() else None
    return match.group("code"), last


CACHE_HEADER = {"X-Cache": {"description": "`hit` when served from the worker's cache, else `miss`",
                            "schema": {"type": "string"}}}


async def _cached(request: Request, compute: Callable[[AsyncSession], Awaitable[BaseModel]]) -> Response:
    """Answer from the worker's cache, or compute the report and keep it, stamped for what it is
    about as read *before* computing (a commit meanwhile leaves the entry already stale).

    Concurrent misses of the same entry (same request, same stamp) run one computation and all
    answer its result (single flight, ``app/core/singleflight.py``): a burst of readers after a
    write costs one query, not one each. ``Cache-Control: no-cache`` computes on its own.

    Most hits never get here: ``CachedReportsMiddleware`` answers them before routing. Those that
    do (API keys, a token not seen since the last change of an account) have just been authenticated."""
    db: Database = request.app.state.db
    query = request.url.query.encode("latin-1")
    key = cache_key(request.url.path, query)
    subject = report_subject(request.url.path, query)
    assert subject is not None, request.url.path  # only the report routes call this
    stamp = await db.cache.stamp(subject)
    fresh = wants_fresh(request.headers.get("cache-control", ""))
    if not fresh:
        body = db.cache.get(key, stamp)
        if body is not None:
            return Response(body, media_type="application/json", headers={"X-Cache": "hit"})

    async def run() -> bytes:
        write_intent.set(False)
        async with db.transaction() as session:
            result = await compute(session)
        computed = result.model_dump_json().encode()
        db.cache.put(key, stamp, computed)  # by the computation itself: kept even if every caller left
        return computed

    if fresh or stamp is None:  # no stamp: changes cannot be seen, so nothing may be shared either
        body = await run()
    else:
        body = await db.cache.flights.run((key, stamp), run)
    return Response(body, media_type="application/json", headers={"X-Cache": "miss"})


def _ok(model: type) -> dict[int | str, dict[str, object]]:
    return {200: {"model": model, "headers": CACHE_HEADER}, **problem_responses(401, 404, 422)}


@router.get("/summary", summary="A unit's figures for a year", response_model=Summary, responses=_ok(Summary))
async def get_summary(request: Request, code: UnitCode, year: YearQuery, approved_only: ApprovedOnly = False) -> Response:
    """Average criteria per commune (exact and official), plan, gap, criteria still needed, bands, coverage,
    gain over the previous year, carried-forward and missing communes; `children` per direct child unit."""

    async def compute(session: AsyncSession) -> Summary:
        unit = await resolve_unit_above_commune(session, code, year)
        return await service.summary(session, unit, year, approved_only=approved_only)

    return await _cached(request, compute)


@router.get(
    "/flags", summary="Per-commune flags for a year", response_model=Page[FlagRow], responses=_ok(Page[FlagRow])
)
async def get_flags(
    request: Request,
    code: UnitCode,
    year: YearQuery,
    flag: Annotated[FlagName | None, Query(description="Only communes carrying this flag")] = None,
    limit: Annotated[WholeNumber, Query(ge=1, le=FLAGS_MAX, description=f"Page size, at most {FLAGS_MAX}")] = 500,
    offset: Annotated[WholeNumber, Query(ge=0, le=MAX_OFFSET)] = 0,
    approved_only: ApprovedOnly = False,
) -> Response:
    """One row per eligible commune, by code: its count, target, flags, missing and lost criteria."""

    async def compute(session: AsyncSession) -> Page[FlagRow]:
        unit = await resolve_unit_above_commune(session, code, year)
        rows = await service.flags(session, unit, year, only=flag, approved_only=approved_only)
        return Page(items=rows[offset : offset + limit], total=len(rows), limit=limit, offset=offset)

    return await _cached(request, compute)


@router.get(
    "/trend", summary="One summary row per year", response_model=Page[SummaryRow], responses=_ok(Page[SummaryRow])
)
async def get_trend(
    request: Request,
    code: UnitCode,
    first: Annotated[WholeNumber | None, Query(alias="from", ge=1900, le=2100, description="First year")] = None,
    last: Annotated[WholeNumber | None, Query(alias="to", ge=1900, le=2100, description="Last year")] = None,
    approved_only: ApprovedOnly = False,
) -> Response:
    """Summary rows for each year the unit existed, `from`–`to` (default: the years its communes have data)."""

    async def compute(session: AsyncSession) -> Page[SummaryRow]:
        unit = ensure_above_commune(await units_service.resolve(session, code))
        rows = await service.trend(session, unit, first=first, last=last, approved_only=approved_only)
        return Page(items=rows, total=len(rows), limit=len(rows), offset=0)

    return await _cached(request, compute)

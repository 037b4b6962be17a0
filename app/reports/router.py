"""/api/v1/units/{code}/summary, /flags, /trend: how far a unit is from its plan.

Computed responses are cached per worker until the database changes (app/core/cache.py):
a repeated request is answered without touching the database. ``X-Cache`` says which;
``Cache-Control: no-cache`` forces a recomputation.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Hashable
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import MAX_OFFSET, Page, declared_queries
from app.assessments.schemas import KindQuery
from app.core.cache import Subject, cache_key, wants_fresh
from app.core.config import API_PREFIX
from app.core.db import Database
from app.core.errors import problem_responses
from app.core.types import DIGITS_ONLY, IsoDate, YearNumber
from app.criteria.models import AssessmentKind
from app.reports import service
from app.reports.models import FlagName, FlagRow, Summary, TrendBasis, TrendRow
from app.units import service as units_service
from app.units.models import CODE_REGEX
from app.units.service import ensure_above_commune, resolve_unit_above_commune

router = APIRouter(prefix="/units/{code}", tags=["Summaries and flags"])

UnitCode = Annotated[
    str, Path(pattern=CODE_REGEX, description="A district, province or `VN`", examples=["084"])
]
YearQuery = Annotated[YearNumber, Query(description="The year", examples=[2021])]
ApprovedOnly = Annotated[
    bool, Query(description="Count only approved assessments (a commune's latest approved one up to the year)")
]
FLAGS_MAX = 5000
# what CachedReportsMiddleware may answer from the cache, and the query parameter holding the last year covered
REPORT_PATHS = re.compile(re.escape(API_PREFIX) + r"/units/(?P<code>[^/]+)/(?P<report>summary|flags|trend)")
LAST_YEAR_PARAM = {"summary": "year", "flags": "year", "trend": "to"}


def report_subject(path: str, query_string: bytes) -> Subject | None:
    """What a cached report is about (``app/core/cache.py``): its unit, and the last year it covers —
    a summary's or flags' ``year``, a trend's ``to`` (absent: every year, as a later year's data
    can extend the trend). A parameter given twice, or not a year, counts as every year; None: not
    a cached report path."""
    match = REPORT_PATHS.fullmatch(path)
    if match is None:
        return None
    params = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    if match.group("report") == "trend" and any(k == "basis" and v != TrendBasis.historic.value for k, v in params):
        # a series over today's territory reads communes of other (former) units, whose scoped writes
        # do not name this unit: it is never cached
        return None
    name = LAST_YEAR_PARAM[match.group("report")]
    values = [v for k, v in params if k == name]
    last = int(values[0]) if len(values) == 1 and values[0].isascii() and values[0].isdigit() else None
    return match.group("code"), last


# the query parameters each report reads (its route's declared ones), noted at its first call
_KNOWN_QUERIES: dict[str, frozenset[str]] = {}


def report_key(path: str, query_string: bytes) -> Hashable | None:
    """The cache key of a report: its path and the parameters it reads, sorted; None until the
    report's route has been called once (then the parameters it reads are known)."""
    match = REPORT_PATHS.fullmatch(path)
    known = _KNOWN_QUERIES.get(match.group("report")) if match else None
    return None if known is None else cache_key(path, query_string, known)


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
    # the scope's path and query, as CachedReportsMiddleware reads them (no URL object built)
    path, query = request.scope["path"], request.scope["query_string"]
    subject = report_subject(path, query)
    assert subject is not None, path  # only the report routes call this
    match = REPORT_PATHS.fullmatch(path)
    assert match is not None
    known = _KNOWN_QUERIES.setdefault(match.group("report"), declared_queries(request.scope["route"]))
    key = cache_key(path, query, known)
    stamp = await db.cache.stamp(subject)
    fresh = wants_fresh(request.headers.get("cache-control", ""))
    if not fresh:
        body = db.cache.get(key, stamp)
        if body is not None:
            return Response(body, media_type="application/json", headers={"X-Cache": "hit"})

    async def run() -> bytes:
        async with db.transaction(write=False) as session:
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
async def get_summary(request: Request, code: UnitCode, year: YearQuery, approved_only: ApprovedOnly = False,
                      kind: KindQuery = AssessmentKind.chuan) -> Response:
    """Average criteria per commune (exact and official), plan, gap, criteria still needed, bands, coverage,
    gain over the previous year, carried-forward and missing communes; `children` per direct child unit.
    Over the assessments of `kind` (targets are set for `chuan`: other kinds carry none)."""

    async def compute(session: AsyncSession) -> Summary:
        unit = await resolve_unit_above_commune(session, code, year)
        return await service.summary(session, unit, year, approved_only=approved_only, kind=kind)

    return await _cached(request, compute)


@router.get(
    "/flags", summary="Per-commune flags for a year", response_model=Page[FlagRow], responses=_ok(Page[FlagRow])
)
async def get_flags(
    request: Request,
    code: UnitCode,
    year: YearQuery,
    flag: Annotated[FlagName | None, Query(description="Only communes carrying this flag")] = None,
    limit: Annotated[int, Field(ge=1, le=FLAGS_MAX), DIGITS_ONLY, Query(description=f"Page size, at most {FLAGS_MAX}")] = 500,
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET), DIGITS_ONLY, Query()] = 0,
    approved_only: ApprovedOnly = False,
    kind: KindQuery = AssessmentKind.chuan,
) -> Response:
    """One row per eligible commune, by code: its count, target, flags, missing and lost criteria, over the
    assessments of `kind`."""

    async def compute(session: AsyncSession) -> Page[FlagRow]:
        unit = await resolve_unit_above_commune(session, code, year)
        rows = await service.flags(session, unit, year, only=flag, approved_only=approved_only, kind=kind)
        return Page(items=rows[offset : offset + limit], total=len(rows), limit=limit, offset=offset)

    return await _cached(request, compute)


@router.get(
    "/trend", summary="One summary row per year", response_model=Page[TrendRow], responses=_ok(Page[TrendRow])
)
async def get_trend(
    request: Request,
    code: UnitCode,
    first: Annotated[YearNumber | None, Query(alias="from", description="First year")] = None,
    last: Annotated[YearNumber | None, Query(alias="to", description="Last year")] = None,
    approved_only: ApprovedOnly = False,
    basis: Annotated[TrendBasis, Query(description="`historic`: each year over the units below the unit then; "
                                       "`current`: over the unit's territory as it is today (or `on`), followed "
                                       "back through lineage")] = TrendBasis.historic,
    on: Annotated[IsoDate | None, Query(description="With `basis=current`: the day whose territory is used "
                                        "(default today, or the unit's last day)")] = None,
    kind: KindQuery = AssessmentKind.chuan,
) -> Response:
    """Summary rows for each year the unit existed, `from`–`to` (default: the years its communes have data); with
    `basis=current`, for each year over today's territory (the 2020 row of the new Lào Cai `15` counts Si Ma Cai's
    nine communes), rows marked `approximate` when a split commune lies only partly in it."""

    async def compute(session: AsyncSession) -> Page[TrendRow]:
        unit = ensure_above_commune(await units_service.resolve(session, code, on=on))
        rows = await service.trend(session, unit, first=first, last=last, approved_only=approved_only, basis=basis,
                                   on=on, kind=kind)
        return Page(items=rows, total=len(rows), limit=len(rows), offset=0)

    if basis == TrendBasis.current:
        return await _uncached(request, compute)
    return await _cached(request, compute)


async def _uncached(request: Request, compute: Callable[[AsyncSession], Awaitable[BaseModel]]) -> Response:
    db: Database = request.app.state.db
    async with db.transaction(write=False) as session:
        result = await compute(session)
    return Response(result.model_dump_json().encode(), media_type="application/json", headers={"X-Cache": "miss"})

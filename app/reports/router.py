"""/api/v1/units/{code}/summary, /flags, /trend: how far a unit is from its plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import Page, SessionDep
from app.core.errors import problem_responses
from app.reports import service
from app.reports.models import FlagName, FlagRow, Summary, SummaryRow
from app.targets.service import ensure_above_commune, resolve_unit_above_commune
from app.units import service as units_service
from app.units.models import CODE_REGEX

router = APIRouter(prefix="/units/{code}", tags=["Summaries and flags"])

UnitCode = Annotated[
    str, Path(pattern=CODE_REGEX, description="A district, province or `VN`", examples=["084"])
]
YearQuery = Annotated[int, Query(ge=1900, le=2100, description="The year", examples=[2021])]
FLAGS_MAX = 5000


@router.get("/summary", summary="A unit's figures for a year", responses=problem_responses(404, 422))
async def get_summary(session: SessionDep, code: UnitCode, year: YearQuery) -> Summary:
    """Average criteria per commune (exact and official), plan, gap, criteria still needed, bands, coverage,
    gain over the previous year, carried-forward and missing communes; `children` per direct child unit."""
    unit = await resolve_unit_above_commune(session, code, year)
    return await service.summary(session, unit, year)


@router.get("/flags", summary="Per-commune flags for a year", responses=problem_responses(404, 422))
async def get_flags(
    session: SessionDep,
    code: UnitCode,
    year: YearQuery,
    flag: Annotated[FlagName | None, Query(description="Only communes carrying this flag")] = None,
    limit: Annotated[int, Query(ge=1, le=FLAGS_MAX, description=f"Page size, at most {FLAGS_MAX}")] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[FlagRow]:
    """One row per eligible commune, by code: its count, target, flags, missing and lost criteria."""
    unit = await resolve_unit_above_commune(session, code, year)
    rows = await service.flags(session, unit, year, only=flag)
    return Page(items=rows[offset : offset + limit], total=len(rows), limit=limit, offset=offset)


@router.get("/trend", summary="One summary row per year", responses=problem_responses(404, 422))
async def get_trend(
    session: SessionDep,
    code: UnitCode,
    first: Annotated[int | None, Query(alias="from", ge=1900, le=2100, description="First year")] = None,
    last: Annotated[int | None, Query(alias="to", ge=1900, le=2100, description="Last year")] = None,
) -> Page[SummaryRow]:
    """Summary rows for each year the unit existed, `from`–`to` (default: the years its communes have data)."""
    unit = ensure_above_commune(await units_service.resolve(session, code))
    rows = await service.trend(session, unit, first=first, last=last)
    return Page(items=rows, total=len(rows), limit=len(rows), offset=0)

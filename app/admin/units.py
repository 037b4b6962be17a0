"""/api/v1/units: the administrative hierarchy, its history and lineage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from app.api.deps import Page, PageDep, ReadSessionDep, ValidityDep, WriteSessionDep
from app.auth.deps import requires
from app.auth.models import Principal
from app.auth.rules import Action
from app.core.errors import problem_responses
from app.core.types import IsoDate
from app.units import service
from app.units.models import (
    CODE_REGEX,
    UnitCreate,
    UnitKind,
    UnitLevel,
    UnitLineagePublic,
    UnitPublic,
    UnitUpdate,
)

AdminDep = Annotated[Principal, Depends(requires(Action.administer))]

router = APIRouter(prefix="/units", tags=["Administrative units"])

CodePath = Annotated[
    str, Path(pattern=CODE_REGEX, description="GSO code: `VN`, or 2, 3 or 5 digits", examples=["02812"])
]
OnQuery = Annotated[
    IsoDate | None,
    Query(description="The unit valid on this day (default today); when none is, the latest that had the code"),
]


@router.get("", summary="List and search units", responses=problem_responses(422))
async def list_units(
    session: ReadSessionDep,
    page: PageDep,
    on: ValidityDep,
    level: Annotated[UnitLevel | None, Query(description="Only units of this level")] = None,
    kind: Annotated[UnitKind | None, Query(description="Only units of this kind")] = None,
    parent: Annotated[str | None, Query(pattern=CODE_REGEX, description="Only direct children of this code")] = None,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Search in names ignoring case and diacritics (`san chai`), or a code prefix"),
    ] = None,
) -> Page[UnitPublic]:
    """List units, current and historical alike unless `on` or `year` picks a day; each carries its validity."""
    units, total = await service.list_units(
        session, level=level, kind=kind, parent=parent, q=q, on=on, limit=page.limit, offset=page.offset
    )
    return page.of(await service.publish(session, units), total)


@router.get("/{code}", summary="One unit", responses=problem_responses(404, 422))
async def get_unit(session: ReadSessionDep, code: CodePath, on: OnQuery = None) -> UnitPublic:
    """The unit with this code valid on `on` (default today), or the latest that had the code."""
    unit = await service.resolve(session, code, on=on)
    return (await service.publish(session, [unit]))[0]


@router.get("/{code}/lineage", summary="Predecessors and successors", responses=problem_responses(404, 422))
async def get_lineage(session: ReadSessionDep, code: CodePath, on: OnQuery = None) -> UnitLineagePublic:
    """The units this one came from and became, across mergers and the 2025 reform."""
    unit = await service.resolve(session, code, on=on)
    return await service.lineage(session, unit)


@router.post(
    "",
    summary="Create a unit",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_unit(session: WriteSessionDep, actor: AdminDep, data: UnitCreate) -> UnitPublic:
    """Create a unit (admin). A reused code needs a validity period that does not overlap the old one."""
    return await service.create_unit(session, actor=actor.actor, data=data)


@router.patch(
    "/{code}", summary="Rename, re-kind or close a unit", responses=problem_responses(401, 403, 404, 409, 422)
)
async def update_unit(
    session: WriteSessionDep, actor: AdminDep, code: CodePath, data: UnitUpdate, on: OnQuery = None,
) -> UnitPublic:
    """Change the unit valid on `on` (default today, else the latest with the code); `valid_to` closes it."""
    return await service.update_unit(session, actor=actor.actor, code=code, on=on, data=data)

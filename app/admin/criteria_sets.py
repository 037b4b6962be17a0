"""/api/v1/criteria-sets: criteria sets (national and provincial adaptations) and their criteria."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from app.api.deps import Page, ReadSessionDep, WriteSessionDep
from app.auth.deps import PrincipalDep
from app.core.errors import problem_responses
from app.core.types import YearNumber
from app.criteria import service
from app.criteria.models import CriteriaSetCreate, CriteriaSetDetail, CriteriaSetPublic, CriteriaSetUpdate, SetKind
from app.units import service as units_service
from app.units.models import CODE_REGEX

router = APIRouter(prefix="/criteria-sets", tags=["Criteria sets"])

SetCode = Annotated[str, Path(max_length=32, examples=["2016-2020"])]


@router.get("", summary="List criteria sets", responses=problem_responses(404, 422))
async def list_sets(
    session: ReadSessionDep,
    year: Annotated[YearNumber | None, Query(description="Only sets in force in this year")] = None,
    kind: Annotated[SetKind | None, Query(description="Only sets of this kind (with `year`: default `chuan`)")] = None,
    unit: Annotated[str | None, Query(pattern=CODE_REGEX, description="With `year` (default this year): the one "
                                      "set that applies to this unit — its province's adaptation first, else the "
                                      "national set", examples=["02812"])] = None,
) -> Page[CriteriaSetPublic]:
    """Every criteria set, oldest first; with `year`, the sets of `kind` in force that year (national first);
    with `unit`, the set that applies to it."""
    found = None
    if unit is not None:
        year = year if year is not None else dt.date.today().year
        found = await units_service.resolve_in_year(session, unit, year=year)
    sets = await service.list_applicable(session, year=year, kind=kind, unit=found)
    return Page(items=[service.to_public(s) for s in sets], total=len(sets), limit=len(sets), offset=0)


@router.get("/{code}", summary="One criteria set with its criteria", responses=problem_responses(404, 422))
async def get_set(session: ReadSessionDep, code: SetCode) -> CriteriaSetDetail:
    """The set with its criteria, groups and any indicators."""
    return await service.detail(session, await service.get_set(session, code))


@router.post("", summary="Create a criteria set", status_code=status.HTTP_201_CREATED,
             operation_id="createCriteriaSet", responses=problem_responses(401, 403, 409, 422))
async def create_set(session: WriteSessionDep, principal: PrincipalDep,
                     data: CriteriaSetCreate) -> CriteriaSetDetail:
    """A national set (admin) or a province's adaptation (`issuer`: its code; admin or that province's users).
    409 when a set of the same `kind` and `issuer` is in force in an overlapping year."""
    return await service.create(session, principal, data)


@router.patch("/{code}", summary="Change a criteria set", operation_id="updateCriteriaSet",
              responses=problem_responses(401, 403, 404, 409, 422))
async def update_set(session: WriteSessionDep, principal: PrincipalDep, code: SetCode,
                     data: CriteriaSetUpdate) -> CriteriaSetDetail:
    """Change a set; once any assessment uses it, only `name`, `decision`, `last_year` and `bands` (else 409)."""
    return await service.update(session, principal, code, data)

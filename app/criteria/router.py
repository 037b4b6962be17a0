"""/api/v1/criteria-sets: the national criteria sets and their criteria."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import Page, ReadSessionDep
from app.core.errors import problem_responses
from app.core.types import YearNumber
from app.criteria import service
from app.criteria.models import CriteriaSetDetail, CriteriaSetPublic

router = APIRouter(prefix="/criteria-sets", tags=["Criteria sets"])


@router.get("", summary="List criteria sets", responses=problem_responses(422))
async def list_sets(
    session: ReadSessionDep,
    year: Annotated[YearNumber | None, Query(description="Only the set in force in this year")] = None,
) -> Page[CriteriaSetPublic]:
    """Every criteria set, oldest first; with `year`, the one set in force that year."""
    sets = await service.list_sets(session, year=year)
    return Page(items=[service.to_public(s) for s in sets], total=len(sets), limit=len(sets), offset=0)


@router.get("/{code}", summary="One criteria set with its criteria", responses=problem_responses(404, 422))
async def get_set(
    session: ReadSessionDep,
    code: Annotated[str, Path(max_length=32, examples=["2016-2020"])],
) -> CriteriaSetDetail:
    """The set with its criteria, groups and any indicators."""
    return await service.detail(session, await service.get_set(session, code))

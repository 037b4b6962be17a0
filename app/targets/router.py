"""/units/{code}/targets/{year}: a unit's yearly plan. Each route is one call to its use case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from app.api.deps import IfMatchDep, IfNoneMatch, ReadSessionDep, WriteSessionDep
from app.auth.deps import PrincipalDep
from app.core.errors import problem_responses
from app.core.preconditions import ETAG_HEADER, NOT_MODIFIED_RESPONSE, etag, versioned
from app.core.types import YearNumber
from app.targets import service
from app.targets.models import TargetPublic, TargetPut
from app.units.models import CODE_REGEX, AdminUnit
from app.units.service import resolve_unit_above_commune

router = APIRouter(prefix="/units/{code}/targets", tags=["Targets"])

UnitCode = Annotated[str, Path(pattern=CODE_REGEX, description="A unit above the commune", examples=["084"])]
Year = Annotated[YearNumber, Path(examples=[2021])]


async def valid_unit_above_commune(session: WriteSessionDep, code: UnitCode, year: Year) -> AdminUnit:
    """The path's unit as it was in the path's year: 404 for an unknown code, 422 for a commune."""
    return await resolve_unit_above_commune(session, code, year)


UnitAboveCommuneDep = Annotated[AdminUnit, Depends(valid_unit_above_commune)]


@router.put(
    "/{year}",
    summary="Set a unit's plan for a year",
    responses={200: {"headers": ETAG_HEADER}, 201: {"model": TargetPublic, "description": "Created"},
               **problem_responses(401, 403, 404, 412, 422, 428)},
)
async def put_target(
    session: WriteSessionDep, principal: PrincipalDep, unit: UnitAboveCommuneDep, year: Year, data: TargetPut,
    response: Response, precondition: IfMatchDep,
) -> TargetPublic:
    """Planned average, communes to reach the standard, minimum gain, per-commune targets; 201 when new."""
    target, created = await service.put(session, principal, unit, year, data, if_match=precondition)
    if created:
        response.status_code = status.HTTP_201_CREATED
    response.headers["ETag"] = etag(target.version)
    return target


@router.get(
    "/{year}",
    summary="A unit's plan for a year",
    response_model=TargetPublic,
    responses={200: {"headers": ETAG_HEADER}, **NOT_MODIFIED_RESPONSE, **problem_responses(404, 422)},
)
async def get_target(
    session: ReadSessionDep, code: UnitCode, year: Year, response: Response, if_none_match: IfNoneMatch = None
) -> TargetPublic | Response:
    """The unit's target for the year."""
    target = await service.read(session, code=code, year=year)
    return versioned(if_none_match, target.version, response) or target

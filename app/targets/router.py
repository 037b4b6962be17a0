"""/api/v1/units/{code}/targets/{year}: a unit's yearly plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from app.api.deps import IfMatchDep, IfNoneMatch, SessionDep
from app.audit import service as audit
from app.auth.deps import PrincipalDep, authorize
from app.auth.rules import Action
from app.core.errors import problem_responses
from app.core.preconditions import ETAG_HEADER, NOT_MODIFIED_RESPONSE, etag, versioned
from app.core.types import YearNumber
from app.units.service import writes_under, year_end
from app.targets import service
from app.targets.models import TargetPublic, TargetPut
from app.units.models import CODE_REGEX

router = APIRouter(prefix="/units/{code}/targets", tags=["Targets"])

UnitCode = Annotated[str, Path(pattern=CODE_REGEX, description="A unit above the commune", examples=["084"])]
Year = Annotated[YearNumber, Path(examples=[2021])]


@router.put(
    "/{year}",
    summary="Set a unit's plan for a year",
    responses={201: {"model": TargetPublic, "description": "Created"}, **problem_responses(401, 403, 404, 412, 422, 428)},
)
async def put_target(
    request: Request, session: SessionDep, principal: PrincipalDep, code: UnitCode, year: Year, data: TargetPut,
    response: Response, precondition: IfMatchDep,
) -> TargetPublic:
    """Planned average, communes to reach the standard, minimum gain, per-commune targets; 201 when new."""
    unit = await service.resolve_unit_above_commune(session, code, year)
    actor, chain = await authorize(session, principal, Action.target_write, unit, on=year_end(year))
    await writes_under(session, unit.code, year)
    existing = await service.get(session, unit, year)
    before = await service.publish(session, existing) if existing else None
    target, created = await service.put(session, unit=unit, year=year, data=data, if_match=precondition)
    if created:
        response.status_code = status.HTTP_201_CREATED
    response.headers["ETag"] = etag(target.version)
    after = await service.publish(session, target)
    if before is None or before.version != after.version:
        await audit.record(session, request, actor, "create" if created else "replace", "target", f"{code}/{year}",
                           before, after, unit_chain=chain)
    return after


@router.get(
    "/{year}",
    summary="A unit's plan for a year",
    response_model=TargetPublic,
    responses={200: {"headers": ETAG_HEADER}, **NOT_MODIFIED_RESPONSE, **problem_responses(404, 422)},
)
async def get_target(
    session: SessionDep, code: UnitCode, year: Year, response: Response, if_none_match: IfNoneMatch = None
) -> TargetPublic | Response:
    """The unit's target for the year."""
    unit = await service.resolve_unit_above_commune(session, code, year)
    target = await service.get_or_404(session, unit, year)
    if (unchanged := versioned(if_none_match, target.version, response)) is not None:
        return unchanged
    return await service.publish(session, target)

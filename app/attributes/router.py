"""/api/v1/units/{code}/attributes: a unit's commune group and region by year."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.api.deps import Page, ReadSessionDep, WriteSessionDep
from app.attributes import service
from app.auth.deps import PrincipalDep
from app.core.errors import problem_responses
from app.core.types import IsoDate, YearNumber
from app.units.models import CODE_REGEX, AttributesPublic, AttributesPut, YearAttributesPublic

router = APIRouter(prefix="/units/{code}/attributes", tags=["Administrative units"])

UnitCode = Annotated[str, Path(pattern=CODE_REGEX, description="GSO code", examples=["02809"])]
Year = Annotated[YearNumber, Path(examples=[2026])]


@router.put("/{year}", summary="Set a unit's attributes for a year", operation_id="putUnitAttributes",
            responses={201: {"model": AttributesPublic, "description": "Created"},
                       **problem_responses(401, 403, 404, 422)})
async def put_attributes(
    session: WriteSessionDep, principal: PrincipalDep, code: UnitCode, year: Year, data: AttributesPut,
    response: Response,
) -> AttributesPublic:
    """`commune_group` (1–3) and `region` of the unit valid in the year; a null field is not set for that year.
    201 when new, 200 when replaced; answers what was written."""
    written, created = await service.put(session, principal, code=code, year=year, data=data)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return written


@router.get("", summary="A unit's attributes by year", operation_id="listUnitAttributes",
            responses=problem_responses(404, 422))
async def list_attributes(
    session: ReadSessionDep,
    code: UnitCode,
    first: Annotated[YearNumber | None, Query(alias="from", description="First year")] = None,
    last: Annotated[YearNumber | None, Query(alias="to", description="Last year")] = None,
    on: Annotated[IsoDate | None, Query(description="Which unit with the code: the one valid on this day "
                                                    "(default today, else the latest)")] = None,
) -> Page[YearAttributesPublic]:
    """One item per year of `from`–`to` (at most 51): `commune_group` and `region` in force that year, each taken
    from the latest year up to it that sets it, else from the unit (`region`)."""
    items = await service.in_force(session, code=code, first=first, last=last, on=on)
    return Page(items=items, total=len(items), limit=len(items), offset=0)

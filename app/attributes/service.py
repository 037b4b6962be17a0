"""Unit attributes by year (commune group, region): one write function, one read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit import service as audit
from app.auth.access import authorize
from app.auth.models import Principal
from app.auth.rules import Action
from app.core.errors import InvalidInput
from app.core.types import utcnow
from app.units import rules
from app.units import service as units_service
from app.units.models import (
    AdminUnit,
    AttributesPublic,
    AttributesPut,
    UnitAttribute,
    YearAttributesPublic,
)
from app.units.service import year_end

MAX_SPAN = 51


def to_public(unit: AdminUnit, row: UnitAttribute) -> AttributesPublic:
    return AttributesPublic.model_validate(
        {"unit_code": unit.code, "year": row.year, "commune_group": row.commune_group, "region": row.region,
         "version": row.version, "updated_at": row.updated_at}
    )


async def put(
    session: AsyncSession, principal: Principal | None, *, code: str, year: int, data: AttributesPut,
) -> tuple[AttributesPublic, bool]:
    """Set the attributes of the unit with ``code`` valid in ``year`` for that year (a district,
    province or administrator in scope); True when created. Audited with before and after."""
    unit = await units_service.resolve_in_year(session, code, year=year)
    actor, chain = await authorize(session, principal, Action.target_write, unit, on=year_end(year))
    row = (await session.execute(
        select(UnitAttribute).where(col(UnitAttribute.unit_id) == unit.id, col(UnitAttribute.year) == year).with_for_update()
    )).scalars().first()
    values = {"commune_group": data.commune_group, "region": data.region.value if data.region else None}
    before = to_public(unit, row) if row is not None else None
    if row is not None and all(getattr(row, k) == v for k, v in values.items()):
        return before, False  # type: ignore[return-value]
    if row is None:
        row = UnitAttribute(unit_id=unit.id, year=year, version=1, updated_at=utcnow(), **values)  # type: ignore[arg-type]
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.version += 1
        row.updated_at = utcnow()
    await session.flush()
    after = to_public(unit, row)
    await audit.record(session, actor.actor, "replace" if before else "create", "unit_attributes",
                       f"{code}/{year}", before, after, unit_chain=chain)
    return after, before is None


async def in_force(
    session: AsyncSession, *, code: str, first: int | None, last: int | None, on: dt.date | None = None
) -> list[YearAttributesPublic]:
    """One item per year of ``first``–``last``: the attributes in force that year. The unit is the one
    with the code valid ``on`` (default today; else the latest with the code). By default the range
    runs from the first year set (else the unit's first year, else this year) to this year (or the
    unit's last year)."""
    unit = await units_service.resolve(session, code, on=on)
    rows = (await session.execute(select(UnitAttribute).where(col(UnitAttribute.unit_id) == unit.id))).scalars().all()
    records = {r.year: (r.commune_group, r.region) for r in rows}
    this_year = dt.date.today().year
    end = unit.valid_to.year if unit.valid_to and unit.valid_to.year < this_year else this_year
    last = last if last is not None else max(end, first or end)
    if first is None:
        starts = [y for y in records if y <= last] or ([unit.valid_from.year] if unit.valid_from else [])
        first = min([*starts, last])
    if last < first:
        raise InvalidInput.field("query", "to", f"`to` ({last}) is before `from` ({first}).")
    if last - first >= MAX_SPAN:
        raise InvalidInput.field("query", "to", f"A range spans at most {MAX_SPAN} years.")
    years = rules.attributes_in_force(records, range(first, last + 1), unit_region=await units_service.own_region(session, unit))
    return [YearAttributesPublic(year=y.year, commune_group=y.commune_group, region=y.region) for y in years]

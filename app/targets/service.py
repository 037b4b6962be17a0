"""Targets: validation against the unit's communes and the criteria set, storage."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit import service as audit
from app.auth.access import authorize
from app.auth.models import Principal
from app.auth.rules import Action
from app.core.errors import FieldError, InvalidInput, NotFound
from app.core.preconditions import IfMatch
from app.core.types import utcnow
from app.criteria import service as criteria_service
from app.targets.models import Target, TargetPublic, TargetPut
from app.units import service as units_service
from app.units.models import AdminUnit
from app.units.service import year_end

ENTITY = "target"


async def get(session: AsyncSession, unit: AdminUnit, year: int, *, for_update: bool = False) -> Target | None:
    stmt = select(Target).where(col(Target.unit_id) == unit.id, col(Target.year) == year)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


class Plan(NamedTuple):
    """What a summary reads of a unit's target: its two plan figures."""

    average_criteria: Decimal
    min_additional_criteria: int | None


# built once: every summary reads its unit's and children's plans (only the figures: a province's
# target also lists its communes' targets, which a national summary would decode 63 times)
PLANS_FOR = (
    select(col(Target.unit_id), col(Target.average_tenths), col(Target.min_additional_criteria))
    .where(col(Target.unit_id).in_(bindparam("ids", expanding=True)), col(Target.year) == bindparam("year"))
)


async def plans_for(session: AsyncSession, unit_ids: Sequence[int], year: int) -> dict[int, Plan]:
    """The plan figures of these units' targets for the year, by unit id (units without one: absent)."""
    if not unit_ids:
        return {}
    rows = await session.execute(PLANS_FOR, {"ids": list(unit_ids), "year": year})
    return {unit_id: Plan(Decimal(tenths).scaleb(-1), minimum) for unit_id, tenths, minimum in rows}


async def targets_by_year(session: AsyncSession, unit: AdminUnit, first: int, last: int) -> dict[int, Target]:
    rows = await session.execute(
        select(Target).where(col(Target.unit_id) == unit.id, col(Target.year) >= first, col(Target.year) <= last)
    )
    return {t.year: t for t in rows.scalars()}


async def put(
    session: AsyncSession, principal: Principal | None, unit: AdminUnit, year: int, data: TargetPut, *,
    if_match: IfMatch = IfMatch(None),
) -> tuple[TargetPublic, bool]:
    """Set the unit's plan for the year — the whole use case: authorize on the unit as it was in
    the year, declare the reports it stales, check every named commune and figure against the
    unit and the set in force, lock the current target and read it (the audit's ``before``),
    check the precondition, write, bump the version, audit. Returns (target, created); an
    unchanged replace keeps its version and writes no audit record."""
    actor, chain = await authorize(session, principal, Action.target_write, unit, on=year_end(year))
    await units_service.writes_under(session, unit.code, year)
    cset = await criteria_service.set_that_applies(session, year, unit=unit)
    errors: list[FieldError] = []
    if data.average_criteria > cset.criteria_count:
        errors.append(FieldError(location="body", field="average_criteria", type="above_maximum",
                                 message=f"{data.average_criteria} is above the {cset.criteria_count} criteria of set "
                                 f"{cset.code} in force in {year}"))
    named = set(data.standard_communes) | set(data.commune_targets)
    eligible = await units_service.eligible_under(session, unit, year, named) if named else set()
    for i, code in enumerate(data.standard_communes):
        if code not in eligible:
            errors.append(FieldError(location="body", field=f"standard_communes[{i}]", type="not_in_unit",
                                     message=f"{code} is not an eligible commune (xã) of {unit.name} in {year}"))
    for code, count in data.commune_targets.items():
        if code not in eligible:
            errors.append(FieldError(location="body", field=f"commune_targets.{code}", type="not_in_unit",
                                     message=f"{code} is not an eligible commune (xã) of {unit.name} in {year}"))
        elif count > cset.criteria_count:
            errors.append(FieldError(location="body", field=f"commune_targets.{code}", type="above_maximum",
                                     message=f"{count} is above the {cset.criteria_count} criteria of set {cset.code}"))
    if errors:
        raise InvalidInput("; ".join(e.message for e in errors), errors=errors)

    existing = await get(session, unit, year, for_update=True)
    if_match.check(existing.version if existing else None)
    before = public(existing, cset.code) if existing else None
    values = dict(
        average_tenths=int(data.average_criteria * 10),
        standard_communes=list(data.standard_communes),
        min_additional_criteria=data.min_additional_criteria,
        commune_targets=dict(data.commune_targets),
    )
    if existing is None:
        target = Target(unit_id=unit.id, unit_code=unit.code, year=year, version=1, updated_at=utcnow(), **values)  # type: ignore[arg-type]
        session.add(target)
    elif all(getattr(existing, k) == v for k, v in values.items()):
        return before, False  # type: ignore[return-value]
    else:
        target = existing
        for key, value in values.items():
            setattr(target, key, value)
        target.version += 1
        target.updated_at = utcnow()
    await session.flush()
    after = public(target, cset.code)
    await audit.record(session, actor.actor, "create" if existing is None else "replace", ENTITY,
                       f"{unit.code}/{year}", before, after, unit_chain=chain)
    return after, existing is None


async def get_or_404(session: AsyncSession, unit: AdminUnit, year: int) -> Target:
    target = await get(session, unit, year)
    if target is None:
        raise NotFound(f"{unit.name} ({unit.code}) has no target for {year}.")
    return target


async def read(session: AsyncSession, *, code: str, year: int) -> TargetPublic:
    """The target of the unit that had this code in ``year``; 404 when it has none."""
    unit = await units_service.resolve_unit_above_commune(session, code, year)
    target = await get_or_404(session, unit, year)
    return public(target, (await criteria_service.set_that_applies(session, year, unit=unit)).code)


def public(target: Target, set_code: str) -> TargetPublic:
    return TargetPublic(
        unit_code=target.unit_code,
        year=target.year,
        criteria_set=set_code,
        average_criteria=target.average_criteria,
        standard_communes=target.standard_communes,
        min_additional_criteria=target.min_additional_criteria,
        commune_targets=target.commune_targets,
        version=target.version,
        updated_at=target.updated_at,
    )

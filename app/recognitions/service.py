"""Recognitions of communes, districts and provinces: one per unit and level, revocable.

Each write is one function owning the whole sequence: resolve the unit valid in the year,
authorize, lock the row, read "before", change, bump the version, audit before/after, and declare
which cached reports it stales.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.service import resolve_commune
from app.audit import service as audit
from app.auth.access import authorize
from app.auth.models import Principal
from app.auth.rules import Action
from app.core.errors import InvalidInput, NotFound
from app.core.types import utcnow
from app.recognitions import rules
from app.recognitions.models import Recognition, RecognitionLevel, RecognitionPublic, RecognitionPut, RevocationIn
from app.units import service as units_service
from app.units.models import AdminUnit, UnitLevel
from app.units.service import writes_under, year_end

ENTITY = "recognition"


def check_level(unit: AdminUnit, level: RecognitionLevel) -> None:
    """422 naming ``level`` when the unit cannot hold a recognition at that level."""
    allowed = rules.LEVELS_BY_UNIT.get(unit.level, ())
    if level.value not in allowed:
        what = f"a {unit.level}" if allowed else f"the {unit.level} level"
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ": no recognition applies"
        raise InvalidInput.field("path", "level", f"{unit.name} ({unit.code}) is {what}; it cannot be recognised "
                                 f"at level {level.value!r}{hint}.")


async def resolve_for_year(session: AsyncSession, code: str, year: int, level: RecognitionLevel, *,
                           commune_only: bool) -> AdminUnit:
    """The unit with the code valid in ``year`` that can hold ``level``."""
    if commune_only:
        unit = await resolve_commune(session, code, year)
    else:
        unit = await units_service.resolve_in_year(session, code, year=year)
        if unit.level == UnitLevel.commune:
            unit = await resolve_commune(session, code, year)  # only communes proper (xã) are recognised
    check_level(unit, level)
    return unit


async def _row(session: AsyncSession, unit: AdminUnit, level: RecognitionLevel, *, lock: bool) -> Recognition | None:
    stmt = select(Recognition).where(col(Recognition.unit_id) == unit.id, col(Recognition.level) == level.value)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def put(
    session: AsyncSession, principal: Principal | None, *, code: str, level: RecognitionLevel, data: RecognitionPut,
    commune_only: bool,
) -> tuple[RecognitionPublic, bool]:
    """Record (or replace) the recognition of the unit that had ``code`` in the recognition year;
    True when it was created."""
    unit = await resolve_for_year(session, code, data.recognition_year, level, commune_only=commune_only)
    actor, chain = await authorize(session, principal, Action.recognition_write, unit,
                                   on=year_end(data.recognition_year))
    existing = await _row(session, unit, level, lock=True)
    before = to_public(existing, unit) if existing is not None else None
    values = dict(data.model_dump(), revoked_on=None, revocation_decision_no=None)
    if existing is not None and all(getattr(existing, k) == v for k, v in values.items()):
        return before, False  # type: ignore[return-value]  # unchanged: no new version, no audit record
    first_year = min(data.recognition_year, existing.recognition_year) if existing else data.recognition_year
    await writes_under(session, unit.code, first_year)
    if existing is None:
        existing = Recognition(unit_id=unit.id, commune_code=unit.code, level=level.value,  # type: ignore[arg-type]
                               version=1, updated_at=utcnow(), **values)
        session.add(existing)
    else:
        for key, value in values.items():
            setattr(existing, key, value)
        existing.version += 1
        existing.updated_at = utcnow()
    await session.flush()
    after = to_public(existing, unit)
    await audit.record(session, actor.actor, "replace" if before else "create", ENTITY, f"{code}/{level.value}",
                       before, after, unit_chain=chain)
    return after, before is None


async def _unit_for_revocation(session: AsyncSession, code: str, level: RecognitionLevel, on: dt.date,
                               *, commune_only: bool) -> AdminUnit:
    unit = await units_service.find(session, code, on=on) or await units_service.resolve(session, code, on=on)
    if commune_only and unit.level != UnitLevel.commune:
        raise InvalidInput.field("path", "code", f"{unit.name} ({code}) is a {unit.level}, not a commune.")
    check_level(unit, level)
    return unit


async def revoke(
    session: AsyncSession, principal: Principal | None, *, code: str, level: RecognitionLevel, data: RevocationIn,
    commune_only: bool,
) -> RecognitionPublic:
    """Revoke the recognition at ``level`` of the unit with ``code`` valid on ``revoked_on`` (else the
    latest unit with the code): from that day's year on it is no longer valid."""
    unit = await _unit_for_revocation(session, code, level, data.revoked_on, commune_only=commune_only)
    existing = await _row(session, unit, level, lock=True)
    if existing is None:
        raise NotFound(f"{unit.name} ({code}) holds no recognition at level {level.value!r}.")
    actor, chain = await authorize(session, principal, Action.recognition_write, unit,
                                   on=year_end(existing.recognition_year))
    if data.revoked_on.year < existing.recognition_year:
        raise InvalidInput.field("body", "revoked_on", f"{data.revoked_on} is before the recognition year "
                                 f"{existing.recognition_year}.")
    before = to_public(existing, unit)
    if existing.revoked_on == data.revoked_on and existing.revocation_decision_no == data.decision_no:
        return before
    years = [data.revoked_on.year] + ([existing.revoked_on.year] if existing.revoked_on else [])
    await writes_under(session, unit.code, min(years))
    existing.revoked_on = data.revoked_on
    existing.revocation_decision_no = data.decision_no
    existing.version += 1
    existing.updated_at = utcnow()
    await session.flush()
    after = to_public(existing, unit)
    await audit.record(session, actor.actor, "revoke", ENTITY, f"{code}/{level.value}", before, after,
                       unit_chain=chain)
    return after


async def list_for(session: AsyncSession, code: str, *, on: dt.date | None = None) -> list[RecognitionPublic]:
    """The recognitions of the unit with ``code`` valid ``on`` (default today; else the latest with
    the code), oldest first. Recognitions belong to the unit: a merged commune starts with none."""
    unit = await units_service.resolve(session, code, on=on)
    rows = await session.execute(
        select(Recognition).where(col(Recognition.unit_id) == unit.id)
        .order_by(col(Recognition.recognition_year), col(Recognition.level))
    )
    return [to_public(r, unit) for r in rows.scalars()]


_COLUMNS = (col(Recognition.unit_id), col(Recognition.level), col(Recognition.recognition_year),
            col(Recognition.revoked_on))
_OF_UNITS = select(*_COLUMNS).where(col(Recognition.unit_id).in_(bindparam("ids", expanding=True)))
# every recognition of a unit above the communes: a few hundred rows nationally
_ABOVE_COMMUNES = (select(*_COLUMNS).join(AdminUnit, col(AdminUnit.id) == col(Recognition.unit_id))
                   .where(col(AdminUnit.level) != UnitLevel.commune.value))
NAMED = 100  # ids named in the statement up to this many (naming 770 districts took 2.8 ms)


async def valid_levels(session: AsyncSession, unit_ids: list[int], years: range, *, above_communes: bool = False
                       ) -> dict[tuple[int, int], list[str]]:
    """{(unit id, year): the levels at which the unit holds a valid recognition, sorted}.
    ``above_communes``: no id is a commune's, so many ids are read as every recognition of a unit
    above the communes, the others dropped here."""
    out: dict[tuple[int, int], list[str]] = {}
    wanted = set(unit_ids)
    if not wanted:
        return out
    if above_communes and len(wanted) > NAMED:
        rows = await session.execute(_ABOVE_COMMUNES)
    else:
        rows = await session.execute(_OF_UNITS, {"ids": sorted(wanted)})
    for unit_id, level, recognition_year, revoked_on in rows:
        if unit_id not in wanted:
            continue
        for year in years:
            if rules.valid_in(year, recognition_year=recognition_year, revoked_on=revoked_on):
                out.setdefault((unit_id, year), []).append(level)
    return {key: sorted(levels) for key, levels in out.items()}


def to_public(r: Recognition, unit: AdminUnit) -> RecognitionPublic:
    return RecognitionPublic(
        unit_code=r.commune_code,
        commune_code=r.commune_code if unit.level == UnitLevel.commune else None,
        unit_valid_from=unit.valid_from,
        level=RecognitionLevel(r.level),
        recognition_year=r.recognition_year,
        decision_no=r.decision_no,
        decision_date=r.decision_date,
        revoked_on=r.revoked_on,
        revocation_decision_no=r.revocation_decision_no,
        version=r.version,
        updated_at=r.updated_at,
    )

"""Persistence and rules for administrative units. Functions take the session first,
flush but never commit (the request's unit of work commits)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, Table, and_, bindparam, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from app.audit import service as audit
from app.core.db import remembered, scope_writes
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.text import fold, like_escape, nfc
from app.units import builtin
from app.units.models import (
    KINDS_BY_LEVEL,
    PARENT_LEVELS,
    AdminUnit,
    LineageEntry,
    UnitAttribute,
    UnitCreate,
    UnitKind,
    UnitLevel,
    UnitLineage,
    UnitLineagePublic,
    UnitPublic,
    UnitUpdate,
    is_ntm_eligible,
)
from app.units.rules import (
    CHAIN_MAX,
    Tree,
    UnitChain,
    YearAttributes,
    attributes_in_force,
    chain_in,
    inherited_region,
)


def year_end(year: int) -> dt.date:
    """Annual assessments describe 31 December: a unit is valid in Y when valid on that day."""
    return dt.date(year, 12, 31)


def valid_on(day: dt.date | ColumnElement[dt.date], unit: Any = AdminUnit) -> ColumnElement[bool]:
    """``unit`` (the table or an alias of it) is valid on the day."""
    return and_(
        or_(unit.valid_from.is_(None), unit.valid_from <= day),
        or_(unit.valid_to.is_(None), unit.valid_to >= day),
    )


DAY = bindparam("day", type_=Date)
UNITS: Table = AdminUnit.__table__  # type: ignore[attr-defined]  # SQLModel's stubs do not declare __table__
# built once, as every write and most reads resolve codes: constructing a statement costs more than running it
FIND = select(AdminUnit).where(col(AdminUnit.code) == bindparam("code"), valid_on(DAY))


def _overlaps(a_from: dt.date | None, a_to: dt.date | None, b_from: dt.date | None, b_to: dt.date | None) -> bool:
    lo = dt.date.min
    hi = dt.date.max
    return (a_from or lo) <= (b_to or hi) and (b_from or lo) <= (a_to or hi)


# ---- reading --------------------------------------------------------------------------------


async def find(session: AsyncSession, code: str, *, on: dt.date) -> AdminUnit | None:
    """The unit with this code valid on the day, if any (kept for read transactions: ``remembered``)."""

    async def read() -> AdminUnit | None:
        return (await session.execute(FIND, {"code": code, "day": on})).scalars().first()

    return await remembered(session, ("unit", code, on), read)


async def resolve(session: AsyncSession, code: str, *, on: dt.date | None = None) -> AdminUnit:
    """The unit valid on ``on`` (default today) or, when none is, the latest that had the code."""
    unit = await find(session, code, on=on or dt.date.today())
    if unit is not None:
        return unit
    result = await session.execute(
        select(AdminUnit)
        .where(col(AdminUnit.code) == code)
        .order_by(col(AdminUnit.valid_from).is_(None), col(AdminUnit.valid_from).desc())
        .limit(1)
    )
    unit = result.scalars().first()
    if unit is None:
        raise NotFound(f"No administrative unit has the code {code!r}.")
    return unit


async def resolve_in_year(session: AsyncSession, code: str, *, year: int) -> AdminUnit:
    """The unit with this code valid in ``year``: 404 for an unknown code, 422 when none was valid then."""
    unit = await find(session, code, on=year_end(year))
    if unit is not None:
        return unit
    await resolve(session, code)  # raises 404 when the code is unknown altogether
    raise InvalidInput.field(
        "path", "code", f"Unit {code!r} did not exist in {year} (a unit is valid in a year when valid on 31 December)."
    )


async def list_units(
    session: AsyncSession,
    *,
    level: UnitLevel | None = None,
    kind: UnitKind | None = None,
    parent: str | None = None,
    q: str | None = None,
    on: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AdminUnit], int]:
    conditions: list[ColumnElement[bool]] = []
    if level is not None:
        conditions.append(col(AdminUnit.level) == level.value)
    if kind is not None:
        conditions.append(col(AdminUnit.kind) == kind.value)
    if parent is not None:
        conditions.append(col(AdminUnit.parent_code) == parent)
    if on is not None:
        conditions.append(valid_on(on))
    if q:
        key = fold(q)
        if key:
            pattern = f"%{like_escape(key)}%"
            conditions.append(
                or_(
                    col(AdminUnit.name_search).like(pattern, escape="\\"),
                    col(AdminUnit.code).like(f"{like_escape(q.strip())}%", escape="\\"),
                )
            )
    total = (await session.execute(select(func.count()).select_from(AdminUnit).where(*conditions))).scalar_one()
    rows = await session.execute(
        select(AdminUnit)
        .where(*conditions)
        .order_by(col(AdminUnit.code), col(AdminUnit.valid_from).is_not(None), col(AdminUnit.valid_from))
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), total


async def lineage_codes(
    session: AsyncSession, units: Sequence[AdminUnit]
) -> dict[int, tuple[list[str], list[str]]]:
    """For each unit id: (predecessor codes, successor codes), sorted."""
    ids = [u.id for u in units if u.id is not None]
    out: dict[int, tuple[list[str], list[str]]] = {i: ([], []) for i in ids}
    if not ids:
        return out
    pred = UNITS.alias("pred")
    succ = UNITS.alias("succ")
    edges = await session.execute(
        select(col(UnitLineage.predecessor_id), col(UnitLineage.successor_id), pred.c.code, succ.c.code)
        .join(pred, pred.c.id == col(UnitLineage.predecessor_id))
        .join(succ, succ.c.id == col(UnitLineage.successor_id))
        .where(or_(col(UnitLineage.predecessor_id).in_(ids), col(UnitLineage.successor_id).in_(ids)))
    )
    for pred_id, succ_id, pred_code, succ_code in edges:
        if succ_id in out:
            out[succ_id][0].append(pred_code)
        if pred_id in out:
            out[pred_id][1].append(succ_code)
    for preds, succs in out.values():
        preds.sort()
        succs.sort()
    return out


def to_public(unit: AdminUnit, links: tuple[list[str], list[str]] | None = None) -> UnitPublic:
    preds, succs = links or ([], [])
    return UnitPublic(
        code=unit.code,
        name=unit.name,
        level=UnitLevel(unit.level),
        kind=UnitKind(unit.kind),
        parent_code=unit.parent_code,
        region=unit.region,
        valid_from=unit.valid_from,
        valid_to=unit.valid_to,
        ntm_eligible=is_ntm_eligible(unit.kind),
        predecessor_codes=preds,
        successor_codes=succs,
    )


async def publish(session: AsyncSession, units: Sequence[AdminUnit]) -> list[UnitPublic]:
    links = await lineage_codes(session, units)
    return [to_public(u, links.get(u.id or -1)) for u in units]


async def lineage(session: AsyncSession, unit: AdminUnit) -> UnitLineagePublic:
    """Predecessors and successors, followed transitively across successive reforms."""

    async def walk(start: int, *, forward: bool) -> list[tuple[int, int]]:
        here, there = (
            (col(UnitLineage.predecessor_id), col(UnitLineage.successor_id))
            if forward
            else (col(UnitLineage.successor_id), col(UnitLineage.predecessor_id))
        )
        seen: dict[int, int] = {}
        frontier = [start]
        depth = 0
        while frontier:
            depth += 1
            rows = await session.execute(select(there).where(here.in_(frontier)))
            frontier = [i for (i,) in rows if i not in seen and i != start]
            for i in frontier:
                seen[i] = depth
        return list(seen.items())

    back = await walk(unit.id, forward=False)  # type: ignore[arg-type]
    ahead = await walk(unit.id, forward=True)  # type: ignore[arg-type]
    ids = [i for i, _ in back + ahead]
    by_id: dict[int, AdminUnit] = {}
    if ids:
        rows = await session.execute(select(AdminUnit).where(col(AdminUnit.id).in_(ids)))
        by_id = {u.id: u for u in rows.scalars()}  # type: ignore[misc]
    links = await lineage_codes(session, [unit, *by_id.values()])

    def entries(pairs: Iterable[tuple[int, int]]) -> list[LineageEntry]:
        items = [LineageEntry(unit=to_public(by_id[i], links.get(i)), depth=d) for i, d in pairs]
        return sorted(items, key=lambda e: (e.depth, e.unit.code))

    return UnitLineagePublic(
        unit=to_public(unit, links.get(unit.id)),  # type: ignore[arg-type]
        predecessors=entries(back),
        successors=entries(ahead),
    )


# ---- writing --------------------------------------------------------------------------------


async def _parent_for(session: AsyncSession, *, level: UnitLevel, parent_code: str, on: dt.date | None) -> AdminUnit:
    candidates = list(
        (await session.execute(select(AdminUnit).where(col(AdminUnit.code) == parent_code))).scalars()
    )
    if not candidates:
        raise NotFound(f"parent_code {parent_code!r}: no administrative unit has that code.")
    if on is None:
        live = [c for c in candidates if c.valid_from is None]
    else:
        live = [c for c in candidates if c.valid_on(on)]
    if not live:
        when = on.isoformat() if on else "before records start"
        raise InvalidInput.field("body", "parent_code", f"Unit {parent_code!r} is not valid on {when}.")
    parent = live[0]
    if UnitLevel(parent.level) not in PARENT_LEVELS[level]:
        allowed = " or ".join(sorted(PARENT_LEVELS[level]))
        raise InvalidInput.field(
            "body",
            "parent_code",
            f"A {level.value} must sit under a {allowed}; {parent_code!r} is a {parent.level}.",
            type="wrong_parent_level",
        )
    return parent


async def _check_no_overlap(
    session: AsyncSession, code: str, valid_from: dt.date | None, valid_to: dt.date | None, *, exclude: int | None
) -> None:
    others = (await session.execute(select(AdminUnit).where(col(AdminUnit.code) == code))).scalars()
    for other in others:
        if other.id != exclude and _overlaps(valid_from, valid_to, other.valid_from, other.valid_to):
            period = f"{other.valid_from or '…'} – {other.valid_to or 'now'}"
            raise Conflict(
                f"Code {code!r} is already used by {other.name} ({period}); a code may be reused only "
                "for a period that does not overlap."
            )


async def _predecessor(session: AsyncSession, code: str, *, before: dt.date | None, index: int) -> AdminUnit:
    if before is None:
        raise InvalidInput.field(
            "body", "valid_from", "A unit with predecessors needs valid_from (the day the merger took effect)."
        )
    day = before - dt.timedelta(days=1)
    unit = await find(session, code, on=day)
    if unit is None:
        raise InvalidInput.field(
            "body", f"predecessor_codes[{index}]", f"No unit with code {code!r} was valid on {day.isoformat()}."
        )
    return unit


async def _create_unit(session: AsyncSession, *, data: UnitCreate) -> AdminUnit:
    if data.parent_code is not None:
        await _parent_for(session, level=data.level, parent_code=data.parent_code, on=data.valid_from)
    await _check_no_overlap(session, data.code, data.valid_from, data.valid_to, exclude=None)
    predecessors = [
        await _predecessor(session, code, before=data.valid_from, index=i)
        for i, code in enumerate(data.predecessor_codes)
    ]
    unit = AdminUnit(
        code=data.code,
        name=data.name,
        name_search=fold(data.name),
        level=data.level.value,
        kind=data.kind.value,
        parent_code=data.parent_code,
        # a merged unit keeps its predecessors' (most common) region unless told otherwise
        region=data.region.value if data.region else inherited_region(p.region for p in predecessors),
        valid_from=data.valid_from,
        valid_to=data.valid_to,
    )
    session.add(unit)
    await session.flush()
    for pred in {p.id: p for p in predecessors}.values():
        session.add(UnitLineage(predecessor_id=pred.id, successor_id=unit.id))  # type: ignore[arg-type]
    await session.flush()
    return unit


async def _update_unit(session: AsyncSession, unit: AdminUnit, *, data: UnitUpdate) -> AdminUnit:
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes:
        if changes["name"] is None:
            raise InvalidInput.field("body", "name", "name cannot be null")
        unit.name = changes["name"]
        unit.name_search = fold(unit.name)
    if "kind" in changes:
        kind = changes["kind"]
        if kind is None:
            raise InvalidInput.field("body", "kind", "kind cannot be null")
        if kind not in KINDS_BY_LEVEL[UnitLevel(unit.level)]:
            raise InvalidInput.field(
                "body", "kind", f"kind {kind.value!r} does not fit a unit of level {unit.level!r}."
            )
        unit.kind = kind.value
    if "region" in changes:
        unit.region = changes["region"].value if changes["region"] else None
    if "valid_to" in changes:
        valid_to = changes["valid_to"]
        if valid_to is not None and unit.valid_from is not None and valid_to < unit.valid_from:
            raise InvalidInput.field(
                "body", "valid_to", f"valid_to {valid_to} is before the unit's valid_from {unit.valid_from}."
            )
        await _check_no_overlap(session, unit.code, unit.valid_from, valid_to, exclude=unit.id)
        unit.valid_to = valid_to
    await session.flush()
    return unit


# ---- reference data ------------------------------------------------------------------------


def _audit_key(unit: AdminUnit) -> str:
    return f"{unit.code}@{unit.valid_from or '-'}"


async def create_unit(session: AsyncSession, *, actor: str, data: UnitCreate) -> UnitPublic:
    """Create a unit (the caller has checked that ``actor`` may administer); audited."""
    unit = await _create_unit(session, data=data)
    after = (await publish(session, [unit]))[0]
    await audit.record(session, actor, "create", "unit", _audit_key(unit), None, after,
                       unit_chain=await chain(session, unit))
    return after


async def update_unit(session: AsyncSession, *, actor: str, code: str, on: dt.date | None, data: UnitUpdate
                      ) -> UnitPublic:
    """Change the unit with ``code`` valid on ``on`` (default today, else the latest with the code),
    locked while it changes; audited with before and after."""
    found = await resolve(session, code, on=on)
    unit = (await session.execute(select(AdminUnit).where(col(AdminUnit.id) == found.id).with_for_update())).scalars().one()
    before = (await publish(session, [unit]))[0]
    unit = await _update_unit(session, unit, data=data)
    after = (await publish(session, [unit]))[0]
    await audit.record(session, actor, "update", "unit", _audit_key(unit), before, after,
                       unit_chain=await chain(session, unit))
    return after


async def upsert_units(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """Insert the units not present yet, matched on (code, valid_from). Returns (inserted, existing).

    Existing rows are left as they are: reference loads never overwrite edits made since.
    """
    existing = {
        (code, valid_from)
        for code, valid_from in await session.execute(select(col(AdminUnit.code), col(AdminUnit.valid_from)))
    }
    inserted = 0
    seen = 0
    for row in rows:
        key = (row["code"], row["valid_from"])
        if key in existing:
            seen += 1
            continue
        name = nfc(row["name"])
        session.add(AdminUnit(**{**row, "name": name, "name_search": fold(name)}))
        existing.add(key)
        inserted += 1
    await session.flush()
    return inserted, seen


async def link_units(
    session: AsyncSession, pairs: Iterable[tuple[str, str]], *, before: dt.date, after: dt.date
) -> int:
    """Add lineage edges between the unit valid on ``before`` and the one valid on ``after``.

    Pairs naming units that are not loaded are skipped; existing edges stay. Returns edges added.
    """
    pairs = list(pairs)
    if not pairs:
        return 0
    old_ids = await _ids_by_code(session, {p for p, _ in pairs}, on=before)
    new_ids = await _ids_by_code(session, {s for _, s in pairs}, on=after)
    present = {(p, s) for p, s in await session.execute(select(col(UnitLineage.predecessor_id), col(UnitLineage.successor_id)))}
    added = 0
    for pred_code, succ_code in pairs:
        pred_id, succ_id = old_ids.get(pred_code), new_ids.get(succ_code)
        if pred_id is None or succ_id is None or (pred_id, succ_id) in present:
            continue
        session.add(UnitLineage(predecessor_id=pred_id, successor_id=succ_id))
        present.add((pred_id, succ_id))
        added += 1
    await session.flush()
    return added


async def _ids_by_code(session: AsyncSession, codes: set[str], *, on: dt.date) -> dict[str, int]:
    out: dict[str, int] = {}
    code_list = sorted(codes)
    for start in range(0, len(code_list), 500):
        chunk = code_list[start : start + 500]
        rows = await session.execute(select(col(AdminUnit.code), col(AdminUnit.id)).where(col(AdminUnit.code).in_(chunk), valid_on(on)))
        out.update({code: uid for code, uid in rows if uid is not None})  # ids are primary keys: never None
    return out


async def load_builtin(session: AsyncSession) -> None:
    await upsert_units(session, builtin.UNITS)
    await link_units(session, builtin.LINEAGE, before=builtin.LAST_PRE_REFORM_DAY, after=builtin.REFORM_DAY)



def ensure_above_commune(unit: AdminUnit) -> AdminUnit:
    if unit.level == UnitLevel.commune:
        raise InvalidInput.field(
            "path",
            "code",
            f"{unit.name} ({unit.code}) is a commune; targets, summaries and flags belong to units above it.",
        )
    return unit


async def resolve_unit_above_commune(session: AsyncSession, code: str, year: int) -> AdminUnit:
    return ensure_above_commune(await resolve_in_year(session, code, year=year))


def _ancestry() -> Select[str]:
    """The code ``:code`` and every code that was ever above it, in any version of the tree."""
    above = select(col(AdminUnit.code)).where(col(AdminUnit.code) == bindparam("code")).cte("above", recursive=True)
    unit = aliased(AdminUnit)
    step = select(col(unit.parent_code)).join(above, col(unit.code) == above.c.code).where(col(unit.parent_code).is_not(None))
    above = above.union(step)  # UNION, not UNION ALL: ends even on a cycle
    return select(above.c.code)


# built once: constructing the statement costs more than running it
ANCESTRY = _ancestry()


async def ancestry(session: AsyncSession, code: str) -> set[str]:
    """The code and every code that was ever above it: every unit whose figures a change under
    ``code`` can move, whichever year the change concerns."""
    return set((await session.execute(ANCESTRY, {"code": code})).scalars())


async def writes_under(session: AsyncSession, code: str, year: int) -> None:
    """Declare that this transaction changes only figures under ``code`` for ``year`` and later
    (an assessment of the commune, carried forward; a target of the unit): cached reports of other
    units, and of earlier years, stay valid."""
    await scope_writes(session, year, ANCESTRY, {"code": code})


def _chain_up() -> Select[int, str, str | None, int]:
    """The unit ``:parent`` valid on ``:day``, its parent valid then, and so on: (id, code, parent code, depth)."""
    up = (
        select(col(AdminUnit.id), col(AdminUnit.code), col(AdminUnit.parent_code), literal(1).label("depth"))
        .where(col(AdminUnit.code) == bindparam("parent"), valid_on(DAY))
        .cte("up", recursive=True)
    )
    unit = aliased(AdminUnit)
    step = (
        select(col(unit.id), col(unit.code), col(unit.parent_code), up.c.depth + 1)
        .join(up, col(unit.code) == up.c.parent_code)
        .where(valid_on(DAY, unit), up.c.depth < CHAIN_MAX - 1)
    )
    up = up.union_all(step)
    return select(up.c.id, up.c.code, up.c.parent_code, up.c.depth).order_by(up.c.depth)


CHAIN_UP = _chain_up()


async def unit_chain(session: AsyncSession, unit: AdminUnit, *, on: dt.date | None = None) -> UnitChain:
    """The unit and its ancestors, following parent links valid on ``on`` (default: a day the
    unit itself was valid); a parent not valid then is named and not followed. One query, at
    most ``CHAIN_MAX`` units."""
    day = on or (unit.valid_to if unit.valid_to and unit.valid_to < dt.date.today() else dt.date.today())
    if unit.valid_from and day < unit.valid_from:
        day = unit.valid_from
    codes, ids, missing = [unit.code], [unit.id], unit.parent_code
    if missing is None:
        return UnitChain(codes, ids)
    depths: set[int] = set()
    for unit_id, code, parent_code, depth in await session.execute(CHAIN_UP, {"parent": missing, "day": day}):
        if depth not in depths:  # one unit per level (a code has one version valid on a day)
            depths.add(depth)
            codes.append(code)
            ids.append(unit_id)
            missing = parent_code
    if missing is not None and len(codes) < CHAIN_MAX:
        codes.append(missing)
        ids.append(None)
    return UnitChain(codes, ids)


async def chain(session: AsyncSession, unit: AdminUnit, *, on: dt.date | None = None) -> list[str]:
    """The codes of ``unit_chain``."""
    return (await unit_chain(session, unit, on=on)).codes


async def tree_above_communes(session: AsyncSession, day: dt.date) -> Tree:
    """code → (id, parent code) of every unit above commune level valid on the day (a few hundred
    rows): with ``rules.chain_in``, the chains of many communes without a query each."""
    rows = await session.execute(
        select(col(AdminUnit.code), col(AdminUnit.id), col(AdminUnit.parent_code))
        .where(col(AdminUnit.level) != UnitLevel.commune.value, valid_on(day))
    )
    return {r.code: (r.id, r.parent_code) for r in rows}


CODES_PER_QUERY = 2000  # far below every driver's bound-parameter limit


async def eligible_under(session: AsyncSession, unit: AdminUnit, year: int, codes: Iterable[str]) -> set[str]:
    """Which of ``codes`` are eligible communes (xã) below ``unit`` in ``year`` (following the
    parent links valid on 31 December): a few set-wise queries however many codes."""
    day = year_end(year)
    wanted = sorted(set(codes))
    found: list[tuple[int, str, str | None]] = []
    for start in range(0, len(wanted), CODES_PER_QUERY):
        rows = await session.execute(
            select(col(AdminUnit.id), col(AdminUnit.code), col(AdminUnit.parent_code)).where(
                col(AdminUnit.code).in_(wanted[start:start + CODES_PER_QUERY]), col(AdminUnit.kind) == UnitKind.xa.value,
                valid_on(day),
            )
        )
        found.extend((r[0], r[1], r[2]) for r in rows if r[0] is not None)  # ids are primary keys: never None
    if not found:
        return set()
    tree = await tree_above_communes(session, day)
    return {code for unit_id, code, parent in found if unit.id in chain_in(unit_id, code, parent, tree).ids[1:]}


# ---- attributes by year (commune group, region) -------------------------------------------


async def own_region(session: AsyncSession, unit: AdminUnit) -> str | None:
    """The unit's region; for a unit without one, its predecessors' most common region."""
    if unit.region is not None:
        return unit.region
    rows = await session.execute(
        select(col(AdminUnit.region)).join(UnitLineage, col(UnitLineage.predecessor_id) == col(AdminUnit.id))
        .where(col(UnitLineage.successor_id) == unit.id).order_by(col(AdminUnit.code))
    )
    return inherited_region(rows.scalars())


_ATTRIBUTES_UP_TO = (select(col(UnitAttribute.year), col(UnitAttribute.commune_group), col(UnitAttribute.region))
                     .where(col(UnitAttribute.unit_id) == bindparam("unit_id"), col(UnitAttribute.year) <= bindparam("year")))


async def attributes_in_year(session: AsyncSession, unit: AdminUnit | int, year: int) -> YearAttributes:
    """The commune group and region of the unit (or the unit with this id) in force in ``year``
    (each carried forward from the latest year up to it that sets it; the region else the unit's own)."""
    if isinstance(unit, int):
        found = await session.get(AdminUnit, unit)
        if found is None:
            raise NotFound(f"No unit has the id {unit}.")
        unit = found
    rows = (await session.execute(_ATTRIBUTES_UP_TO, {"unit_id": unit.id, "year": year})).all()
    records = {y: (group, region) for y, group, region in rows}
    return attributes_in_force(records, [year], unit_region=await own_region(session, unit))[0]


async def attributes_in_year_of(session: AsyncSession, unit_ids: Sequence[int], year: int) -> dict[int, YearAttributes]:
    """``attributes_in_year`` for many units at once (an import's communes), in three queries per 2,000
    units instead of two or three per unit: the same records, the same pure rules."""
    out: dict[int, YearAttributes] = {}
    ids = list(dict.fromkeys(unit_ids))
    for start in range(0, len(ids), 2000):
        chunk = ids[start:start + 2000]
        regions: dict[int, str | None] = {}
        for unit_id, region in await session.execute(
            select(col(AdminUnit.id), col(AdminUnit.region)).where(col(AdminUnit.id).in_(chunk))
        ):
            if unit_id is not None:
                regions[unit_id] = region
        missing = [i for i in chunk if regions.get(i) is None]
        predecessors: dict[int, list[str | None]] = {}
        if missing:
            for successor, region in await session.execute(
                select(col(UnitLineage.successor_id), col(AdminUnit.region))
                .join(UnitLineage, col(UnitLineage.predecessor_id) == col(AdminUnit.id))
                .where(col(UnitLineage.successor_id).in_(missing))
                .order_by(col(UnitLineage.successor_id), col(AdminUnit.code))
            ):
                predecessors.setdefault(successor, []).append(region)
        records: dict[int, dict[int, tuple[int | None, str | None]]] = {}
        for unit_id, y, group, region in await session.execute(
            select(col(UnitAttribute.unit_id), col(UnitAttribute.year), col(UnitAttribute.commune_group),
                   col(UnitAttribute.region))
            .where(col(UnitAttribute.unit_id).in_(chunk), col(UnitAttribute.year) <= year)
        ):
            records.setdefault(unit_id, {})[y] = (group, region)
        for unit_id in chunk:
            if unit_id not in regions:
                continue  # no such unit
            own = regions[unit_id] if regions[unit_id] is not None else inherited_region(predecessors.get(unit_id, []))
            out[unit_id] = attributes_in_force(records.get(unit_id, {}), [year], unit_region=own)[0]
    return out

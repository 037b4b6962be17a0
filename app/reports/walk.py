"""The units above communes below a unit, followed down from it for a span of years.

Summaries and trends need three things from the tree below a unit, in each year (parent links
valid on 31 December, as everywhere in the reports): its direct children (a province's
districts: one row each), the *parents* whose communes count for it (the units whose code a
commune's ``parent_code`` names: the stored aggregates are kept per parent) with the direct
child each lies under, and the districts below it (``recognized_districts``). One walk gives
all three, in at most ``MAX_DEPTH - 1`` short queries whatever the number of years: each level
reads the units above communes under the codes found so far that were valid at some point of
the span, and the years are told apart here (a national walk reads ~770 rows; a district's,
one empty row set). Communes sit at most ``MAX_DEPTH`` below a unit, so the parents (and the
districts, which sit above their communes by ``units.rules``) are at most ``MAX_DEPTH - 1`` below.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Date, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.db import remembered
from app.recognitions.rules import DISTRICT_COUNTED
from app.reports.queries import DISTRICT_KINDS, MAX_DEPTH, UNITS
from app.units.models import AdminUnit, UnitLevel, valid_between
from app.units.service import year_end

OWN = ""  # the "child" of the unit's own communes (no unit has an empty code)

_FIRST = bindparam("first_day", type_=Date())
_LAST = bindparam("last_day", type_=Date())
# valid at some time between 31 December of the first year and of the last
_IN_SPAN = (or_(UNITS.c.valid_from.is_(None), UNITS.c.valid_from <= _LAST),
            or_(UNITS.c.valid_to.is_(None), UNITS.c.valid_to >= _FIRST))


_CHILDREN = (
    select(AdminUnit)
    .where(col(AdminUnit.parent_code) == bindparam("code"), col(AdminUnit.level) != UnitLevel.commune.value,
           *_IN_SPAN)
    .order_by(col(AdminUnit.code))
)
_BELOW = (
    select(UNITS.c.code, UNITS.c.id, UNITS.c.parent_code, UNITS.c.kind, UNITS.c.valid_from, UNITS.c.valid_to)
    .where(UNITS.c.parent_code.in_(bindparam("codes", expanding=True)), UNITS.c.level != UnitLevel.commune.value,
           *_IN_SPAN)
    .order_by(UNITS.c.code)
)


@dataclass
class Walk:
    """What lies below a unit in each year of the span."""

    years: list[int]
    # direct children above communes, code order
    children: dict[int, list[AdminUnit]] = field(default_factory=dict)
    # parent code → the direct child it lies under (``OWN``: the unit itself, a parent too)
    tops: dict[int, dict[str, str]] = field(default_factory=dict)
    # the districts below the unit: (unit id, the direct child it lies under, is it that child)
    districts: dict[int, list[tuple[int, str, bool]]] = field(default_factory=dict)

    def rows(self) -> int:
        """About how many rows it holds (what bounds it in ``remembered``)."""
        return 1 + sum(len(found) for part in (self.children, self.tops, self.districts) for found in part.values())

    def district_ids(self) -> list[int]:
        return sorted({uid for found in self.districts.values() for uid, _, _ in found})


async def walk(session: AsyncSession, unit: AdminUnit, years: Iterable[int]) -> Walk:
    """The tree above communes below ``unit`` in each of ``years`` (see the module); kept for read
    transactions (``remembered``): callers read it and never change it."""
    wanted = sorted(set(years))
    return await remembered(session, ("walk", unit.id, tuple(wanted)), lambda: _walk(session, unit, wanted),
                            weight=Walk.rows)


async def _walk(session: AsyncSession, unit: AdminUnit, years: list[int]) -> Walk:
    out = Walk(years=years)
    if not out.years:
        return out
    span = {"first_day": year_end(out.years[0]), "last_day": year_end(out.years[-1])}
    children = list((await session.execute(_CHILDREN, {"code": unit.code, **span})).scalars())
    # (code, id, parent code, kind, valid from, valid to) by depth below the unit
    levels = [[(u.code, u.id, u.parent_code, u.kind, u.valid_from, u.valid_to) for u in children]]
    for _ in range(MAX_DEPTH - 2):
        codes = sorted({row[0] for row in levels[-1]})
        if not codes:
            break
        levels.append([tuple(r) for r in await session.execute(_BELOW, {"codes": codes, **span})])
    for y in out.years:
        day = year_end(y)
        out.children[y] = [u for u in children if u.valid_on(day)]
        tops = out.tops[y] = {unit.code: OWN}
        districts = out.districts[y] = []
        for rows in levels:
            for code, uid, parent, kind, valid_from, valid_to in rows:
                if code in tops or parent not in tops or not valid_between(valid_from, valid_to, day):
                    continue
                top = tops[code] = code if tops[parent] == OWN else tops[parent]
                if kind in DISTRICT_KINDS and uid is not None:  # ids are primary keys: never None
                    districts.append((uid, top, code == top))
    return out


@dataclass
class DistrictCount:
    districts: int = 0
    recognized: int = 0


def district_counts(walk: Walk, levels: dict[tuple[int, int], list[str]]
                    ) -> dict[int, tuple[DistrictCount, dict[str, DistrictCount]]]:
    """For each year: (the districts below the unit, those below each direct child, the child
    itself not counted), and how many of them hold a valid district-level recognition then;
    ``levels`` as ``recognitions.service.valid_levels`` gives them, for ``walk.district_ids()``."""
    out: dict[int, tuple[DistrictCount, dict[str, DistrictCount]]] = {}
    for y, found in walk.districts.items():
        whole, by_child = out[y] = (DistrictCount(), defaultdict(DistrictCount))
        for uid, top, own in found:
            held = any(level in DISTRICT_COUNTED for level in levels.get((uid, y), ()))
            whole.districts += 1
            whole.recognized += held
            if not own:
                by_child[top].districts += 1
                by_child[top].recognized += held
    return out

"""SQL for the reports: a unit's eligible communes in a year and their statuses, aggregated
in the database so that a national figure reads one narrow row per commune and returns
one row per group. No rule is decided here: the grouped numbers go to ``rules``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, Subquery, Table, and_, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import CTE

from app.assessments.models import Assessment
from app.recognitions.models import Recognition
from app.reports.rules import CommuneStatus, StatusGroup
from app.units.models import AdminUnit, UnitKind, UnitLevel
from app.units.service import year_end

UNITS: Table = AdminUnit.__table__  # type: ignore[assignment]
ASSESSMENTS: Table = Assessment.__table__  # type: ignore[assignment]


def _valid(table: Table | CTE, day: dt.date) -> ColumnElement[bool]:
    c = table.c
    return and_(
        or_(c.valid_from.is_(None), c.valid_from <= day), or_(c.valid_to.is_(None), c.valid_to >= day)
    )


def tree(unit: AdminUnit, year: int) -> CTE:
    """Every unit below ``unit`` in ``year`` (parent links valid that year), with ``top``:
    the code of the direct child of ``unit`` it sits under (itself, for direct children)."""
    day = year_end(year)
    anchor = select(
        UNITS.c.id, UNITS.c.code, UNITS.c.name, UNITS.c.kind, UNITS.c.level, UNITS.c.code.label("top")
    ).where(UNITS.c.parent_code == unit.code, _valid(UNITS, day))
    below = anchor.cte("tree", recursive=True)
    child = UNITS.alias("child")
    return below.union_all(
        select(child.c.id, child.c.code, child.c.name, child.c.kind, child.c.level, below.c.top)
        .join(below, child.c.parent_code == below.c.code)
        .where(_valid(child, day), below.c.level != UnitLevel.commune.value)
    )


def eligible(unit: AdminUnit, year: int) -> Subquery:
    """Rule 1: communes proper (xã) below the unit that exist in the year."""
    t = tree(unit, year)
    return select(t.c.id, t.c.code, t.c.name, t.c.top).where(t.c.kind == UnitKind.xa.value).subquery("elig")


def _latest_year(elig: Subquery, year: int) -> ColumnElement[int]:
    later = ASSESSMENTS.alias("latest")
    return (
        select(func.max(later.c.year))
        .where(later.c.unit_id == elig.c.id, later.c.year <= year)
        .scalar_subquery()
    )


def statuses(elig: Subquery, year: int) -> Select:
    """Rule 2: each commune's assessment for the year, or its latest earlier one."""
    a = ASSESSMENTS.alias("a")
    return (
        select(
            elig.c.id, elig.c.code, elig.c.top, a.c.year, a.c.criteria_set, a.c.criteria_count, a.c.met_count,
            a.c.met_bits,
        )
        .select_from(elig)
        .join(a, a.c.unit_id == elig.c.id)
        .where(a.c.year == _latest_year(elig, year))
    )


@dataclass
class Aggregate:
    """What the database returns for one group of communes (a child unit, or the whole unit)."""

    groups: list[StatusGroup] = field(default_factory=list)
    coverage: dict[int, int] = field(default_factory=dict)
    gained: int | None = None
    carried_forward: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


async def aggregate(
    session: AsyncSession, unit: AdminUnit, year: int, *, coverage_set: str, coverage_count: int
) -> dict[str, Aggregate]:
    """Per direct child (``top``): status groups, per-criterion coverage, gain over Y−1, lists."""
    elig = eligible(unit, year)
    out: dict[str, Aggregate] = defaultdict(Aggregate)

    st = statuses(elig, year).subquery("st")
    bits = [
        func.sum(st.c.met_bits.op(">>")(literal_column(str(n - 1))).op("&")(literal_column("1")))
        for n in range(1, coverage_count + 1)
    ]
    grouped = await session.execute(
        select(st.c.top, st.c.met_count, st.c.criteria_count, st.c.criteria_set, func.count(), *bits).group_by(
            st.c.top, st.c.met_count, st.c.criteria_count, st.c.criteria_set
        )
    )
    for top, met_count, criteria_count, set_code, communes, *sums in grouped:
        agg = out[top]
        agg.groups.append(StatusGroup(met_count=met_count, criteria_count=criteria_count, communes=communes))
        if set_code == coverage_set:
            for n, value in enumerate(sums, start=1):
                agg.coverage[n] = agg.coverage.get(n, 0) + int(value or 0)

    cur = statuses(elig, year).subquery("cur")
    prev = statuses(elig, year - 1).subquery("prev")
    gains = await session.execute(
        select(cur.c.top, func.sum(cur.c.met_count) - func.sum(prev.c.met_count))
        .join(prev, prev.c.id == cur.c.id)
        .group_by(cur.c.top)
    )
    for top, gained in gains:
        out[top].gained = int(gained)

    latest = select(elig.c.code, elig.c.top, _latest_year(elig, year).label("latest")).subquery("lat")
    listed = await session.execute(
        select(latest.c.code, latest.c.top, latest.c.latest)
        .where(or_(latest.c.latest.is_(None), latest.c.latest < year))
        .order_by(latest.c.code)
    )
    for code, top, latest_year in listed:
        (out[top].missing if latest_year is None else out[top].carried_forward).append(code)
    return out


async def eligible_codes(
    session: AsyncSession, unit: AdminUnit, year: int, *, restrict_to: Iterable[str]
) -> set[str]:
    elig = eligible(unit, year)
    rows = await session.execute(select(elig.c.code).where(elig.c.code.in_(sorted(set(restrict_to)))))
    return set(rows.scalars())


def _status(year: int, set_code: str, count: int, bits: int) -> CommuneStatus:
    return CommuneStatus(
        year=year, criteria_set=set_code, criteria_count=count,
        met=frozenset(n for n in range(1, count + 1) if bits >> (n - 1) & 1),
    )


@dataclass(frozen=True)
class CommuneRow:
    id: int
    code: str
    name: str
    status: CommuneStatus | None
    previous: CommuneStatus | None
    recognized: bool


async def commune_rows(session: AsyncSession, unit: AdminUnit, year: int) -> list[CommuneRow]:
    """Each eligible commune with its status in Y and Y−1 and whether it was recognised by Y."""
    elig = eligible(unit, year)
    communes = list(await session.execute(select(elig.c.id, elig.c.code, elig.c.name).order_by(elig.c.code)))
    by_year: dict[int, dict[int, CommuneStatus]] = {}
    for y in (year, year - 1):
        st = statuses(elig, y).subquery("st")
        rows = await session.execute(select(st.c.id, st.c.year, st.c.criteria_set, st.c.criteria_count, st.c.met_bits))
        by_year[y] = {uid: _status(sy, s, c, b) for uid, sy, s, c, b in rows}
    recognized = set(
        (
            await session.execute(
                select(Recognition.unit_id)
                .join(elig, elig.c.id == Recognition.unit_id)
                .where(Recognition.recognition_year <= year)
            )
        ).scalars()
    )
    return [
        CommuneRow(
            id=uid, code=code, name=name, status=by_year[year].get(uid), previous=by_year[year - 1].get(uid),
            recognized=uid in recognized,
        )
        for uid, code, name in communes
    ]


async def direct_children(session: AsyncSession, unit: AdminUnit, year: int) -> list[AdminUnit]:
    rows = await session.execute(
        select(AdminUnit)
        .where(AdminUnit.parent_code == unit.code, _valid(UNITS, year_end(year)))
        .order_by(AdminUnit.code)
    )
    return list(rows.scalars())


async def data_years(session: AsyncSession, unit: AdminUnit) -> tuple[int, int] | None:
    """First and last year with an assessment of any commune that was ever below the unit."""
    anchor = select(UNITS.c.code, UNITS.c.level).where(UNITS.c.parent_code == unit.code)
    below = anchor.cte("ever_below", recursive=True)
    child = UNITS.alias("child")
    below = below.union_all(
        select(child.c.code, child.c.level)
        .join(below, child.c.parent_code == below.c.code)
        .where(below.c.level != UnitLevel.commune.value)
    )
    codes = select(below.c.code).where(below.c.level == UnitLevel.commune.value)
    row = (
        await session.execute(
            select(func.min(Assessment.year), func.max(Assessment.year)).where(Assessment.commune_code.in_(codes))
        )
    ).one()
    return None if row[0] is None else (row[0], row[1])

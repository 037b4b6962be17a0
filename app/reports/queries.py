"""SQL for the reports: a unit's eligible communes in a year and their statuses, aggregated
in the database so that a national figure reads one narrow row per commune and returns one
row per group. No rule is decided here: the grouped numbers go to ``rules``.

The statements are built once, with bind parameters, and reused: building SQLAlchemy
expressions per request costs more than running them on a district.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import add
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import CTE, FromClause
from sqlmodel import col

from app.assessments.models import Assessment, AssessmentStatus
from app.criteria.models import AssessmentKind
from app.recognitions.models import Recognition
from app.recognitions.rules import LEVEL_BITS, attests
from app.reports.rules import CommuneStatus, StatusGroup
from app.units.models import AdminUnit, UnitKind, UnitLevel, UnitLineage

UNITS: Table = AdminUnit.__table__  # type: ignore[attr-defined]  # SQLModel's stubs do not declare __table__
ASSESSMENTS: Table = Assessment.__table__  # type: ignore[attr-defined]  # SQLModel's stubs do not declare __table__
RECOGNITIONS: Table = Recognition.__table__  # type: ignore[attr-defined]  # SQLModel's stubs do not declare __table__

# Bind parameters shared by the statements below.
P_PARENT = bindparam("parent", type_=UNITS.c.code.type)
P_DAY = bindparam("day", type_=UNITS.c.valid_from.type)
P_KIND = bindparam("kind", type_=ASSESSMENTS.c.kind.type)  # the assessments' kind (contract v1.1)


class year_end_date(FunctionElement[dt.date]):
    """31 December of an integer year, in SQL (the day annual figures describe)."""

    type = Date()
    inherit_cache = True


@compiles(year_end_date, "sqlite")
def _year_end_sqlite(element: year_end_date, compiler: Any, **kw: Any) -> str:
    # SQLite keeps dates as ISO text, which compares in date order
    return f"printf('%04d-12-31', {compiler.process(element.clauses, **kw)})"


@compiles(year_end_date, "postgresql")
def _year_end_pg(element: year_end_date, compiler: Any, **kw: Any) -> str:
    return f"make_date({compiler.process(element.clauses, **kw)}, 12, 31)"


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _valid(table: FromClause, day: ColumnElement[dt.date]) -> ColumnElement[bool]:
    c = table.c
    return and_(or_(c.valid_from.is_(None), c.valid_from <= day), or_(c.valid_to.is_(None), c.valid_to >= day))


# Depth of the hierarchy below the national root: province → district → commune. Spelled out
# as joins rather than a recursive CTE, whose row estimates lead PostgreSQL to hash whole tables.
MAX_DEPTH = 3


def _years(count: int) -> CTE:
    """The years ``:y0`` … ``:y{count-1}``, one row each."""
    parts = [select(bindparam(f"y{i}", type_=Integer()).label("y")) for i in range(count)]
    return (parts[0] if count == 1 else union_all(*parts)).cte("years")


def year_params(first: int, last: int) -> dict[str, int]:
    return {f"y{i}": year for i, year in enumerate(range(first, last + 1))}


def _tree(year_count: int) -> CTE:
    """For each year y, every unit below ``:parent`` on 31 December of y (following the parent
    links valid then), with ``top``: the code of the direct child of ``:parent`` it sits under."""
    years = _years(year_count)
    levels = []
    for depth in range(1, MAX_DEPTH + 1):
        chain = [UNITS.alias(f"u{d}") for d in range(1, depth + 1)]
        day = year_end_date(years.c.y)
        joined = years.join(chain[0], and_(chain[0].c.parent_code == P_PARENT, _valid(chain[0], day)))
        for parent, child in zip(chain, chain[1:], strict=False):
            joined = joined.join(child, and_(child.c.parent_code == parent.c.code, _valid(child, day)))
        last = chain[-1]
        levels.append(
            select(years.c.y, last.c.id, last.c.code, last.c.name, last.c.kind, chain[0].c.code.label("top"))
            .select_from(joined)
        )
    # materialized: walked from :parent down the parent_code index, never from the (many) communes up
    return union_all(*levels).cte("tree").prefix_with("MATERIALIZED")


def _latest(elig: CTE, year: ColumnElement[int], name: str, approved_only: bool) -> ColumnElement[int]:
    """Rule 2: the year of the commune's assessment for ``year``, or of its latest earlier one
    (only approved assessments count when ``approved_only``)."""
    later = ASSESSMENTS.alias(name)
    conditions = [later.c.unit_id == elig.c.id, later.c.kind == P_KIND, later.c.year <= year]
    if approved_only:
        conditions.append(later.c.status == AssessmentStatus.approved.value)
    return select(func.max(later.c.year)).where(*conditions).scalar_subquery()


def _valid_recognition(rec: Any, year: ColumnElement[int]) -> ColumnElement[bool]:
    """The recognition is valid in ``year`` (``app.recognitions.rules.valid_in``, in SQL)."""
    return and_(rec.c.recognition_year <= year, or_(rec.c.revoked_on.is_(None), rec.c.revoked_on > year_end_date(year)))


def _recognition_bits(unit_id: ColumnElement[int], year: ColumnElement[int]) -> ColumnElement[int]:
    """The bit set (``LEVEL_BITS``) of the commune levels at which the unit holds a valid
    recognition in ``year``; 0 for none. One row per unit and level, so the sum is the bit set."""
    rec = RECOGNITIONS.alias("rec")
    bit = case(*((rec.c.level == level, value) for level, value in LEVEL_BITS.items()), else_=0)
    return (
        select(func.coalesce(func.sum(bit), 0))
        .where(rec.c.unit_id == unit_id, _valid_recognition(rec, year))
        .scalar_subquery()
    )


def _listed_communes(year_count: int) -> CTE:
    """For each year y, the communes (xã) among the units ``:ids`` valid on 31 December of y: the
    communes of a territory given by lineage (``trend?basis=current``) rather than by the tree."""
    years = _years(year_count)
    u = UNITS.alias("listed")
    joined = years.join(u, and_(u.c.id.in_(bindparam("ids", expanding=True)), _valid(u, year_end_date(years.c.y)),
                                u.c.kind == UnitKind.xa.value))
    return select(years.c.y, u.c.id, u.c.code, u.c.name, literal_column("''").label("top")).select_from(joined).cte("elig")


def _parent_communes(year_count: int) -> CTE:
    """For each year y, the communes (xã) valid on 31 December of y whose parent code is one of
    ``:parents``, with ``top`` their parent code: the rows stored per parent (``report_agg``)."""
    years = _years(year_count)
    u = UNITS.alias("member")
    joined = years.join(u, and_(u.c.parent_code.in_(bindparam("parents", expanding=True)),
                                _valid(u, year_end_date(years.c.y)), u.c.kind == UnitKind.xa.value))
    return select(years.c.y, u.c.id, u.c.code, u.c.name, u.c.parent_code.label("top")).select_from(joined).cte("elig")


def _latest_row(elig: CTE, year: ColumnElement[int], name: str, approved_only: bool) -> Any:
    """PostgreSQL, rule 2 in one index descent: the commune's latest assessment up to ``year``."""
    a = ASSESSMENTS.alias(f"{name}_a")
    conditions = [a.c.unit_id == elig.c.id, a.c.kind == P_KIND, a.c.year <= year]
    if approved_only:
        conditions.append(a.c.status == AssessmentStatus.approved.value)
    return (
        select(a.c.year, a.c.criteria_set, a.c.criteria_count, a.c.met_count, a.c.met_bits, a.c.indicator_conflicts)
        .where(*conditions).order_by(a.c.year.desc()).limit(1).lateral(name)
    )


def _latest_id(elig: CTE, year: ColumnElement[int], name: str, approved_only: bool) -> ColumnElement[int]:
    """SQLite, rule 2: the id of the commune's latest assessment up to ``year`` — one descent of
    the (unit_id, year) index, then the row by its rowid."""
    a = ASSESSMENTS.alias(name)
    conditions = [a.c.unit_id == elig.c.id, a.c.kind == P_KIND, a.c.year <= year]
    if approved_only:
        conditions.append(a.c.status == AssessmentStatus.approved.value)
    return select(a.c.id).where(*conditions).order_by(a.c.year.desc()).limit(1).scalar_subquery()


def _statuses(year_count: int, approved_only: bool, dialect: str = "sqlite", by_ids: bool = False,
              by_parents: bool = False) -> Select:
    """One row per year y and eligible commune (rule 1): its status in y and in y − 1 (rule 2), and
    the bit set of its valid recognitions in y (``rec``). ``by_ids``: the communes are those of
    ``:ids`` valid in y instead of those below ``:parent``; ``by_parents``: those whose parent code
    is one of ``:parents``, ``top`` being that code."""
    if by_ids:
        elig = _listed_communes(year_count)
    elif by_parents:
        elig = _parent_communes(year_count)
    else:
        tree = _tree(year_count)
        elig = (
            select(tree.c.y, tree.c.id, tree.c.code, tree.c.name, tree.c.top)
            .where(tree.c.kind == UnitKind.xa.value)
            .cte("elig")
        )
    if dialect == "postgresql":
        # two descents of the (unit_id, year) index per commune, each returning the row itself,
        # instead of a max() probe and a lookup for each of the two statuses
        cur = _latest_row(elig, elig.c.y, "cur", approved_only)
        prev = _latest_row(elig, elig.c.y - 1, "prev", approved_only)
        return (
            select(
                elig.c.y, elig.c.id, elig.c.code, elig.c.name, elig.c.top, cur.c.year.label("ly"),
                _recognition_bits(elig.c.id, elig.c.y).label("rec"),
                cur.c.criteria_set, cur.c.criteria_count, cur.c.met_count, cur.c.met_bits, cur.c.indicator_conflicts,
                prev.c.criteria_set.label("prev_set"), prev.c.criteria_count.label("prev_count"),
                prev.c.met_count.label("prev_met"), prev.c.met_bits.label("prev_bits"),
            )
            .select_from(elig)
            .outerjoin(cur, true())
            .outerjoin(prev, true())
        )
    if dialect == "sqlite":
        ids = select(
            elig.c.y, elig.c.id, elig.c.code, elig.c.name, elig.c.top,
            _latest_id(elig, elig.c.y, "lid", approved_only).label("cur_id"),
            _latest_id(elig, elig.c.y - 1, "pid", approved_only).label("prev_id"),
        ).cte("ids").prefix_with("MATERIALIZED")
        cur = ASSESSMENTS.alias("cur")
        prev = ASSESSMENTS.alias("prev")
        return (
            select(
                ids.c.y, ids.c.id, ids.c.code, ids.c.name, ids.c.top, cur.c.year.label("ly"),
                _recognition_bits(ids.c.id, ids.c.y).label("rec"),
                cur.c.criteria_set, cur.c.criteria_count, cur.c.met_count, cur.c.met_bits, cur.c.indicator_conflicts,
                prev.c.criteria_set.label("prev_set"), prev.c.criteria_count.label("prev_count"),
                prev.c.met_count.label("prev_met"), prev.c.met_bits.label("prev_bits"),
            )
            .select_from(ids)
            .outerjoin(cur, cur.c.id == ids.c.cur_id)
            .outerjoin(prev, prev.c.id == ids.c.prev_id)
        )
    # the portable form (any other database; the reference the tests hold the others to)
    lat = select(
        elig.c.y, elig.c.id, elig.c.code, elig.c.name, elig.c.top,
        _latest(elig, elig.c.y, "ly", approved_only).label("ly"),
        _latest(elig, elig.c.y - 1, "py", approved_only).label("py"),
    ).cte("lat").prefix_with("MATERIALIZED")  # its years become plain keys for index lookups
    cur = ASSESSMENTS.alias("cur")
    prev = ASSESSMENTS.alias("prev")
    return (
        select(
            lat.c.y, lat.c.id, lat.c.code, lat.c.name, lat.c.top, lat.c.ly,
            _recognition_bits(lat.c.id, lat.c.y).label("rec"),
            cur.c.criteria_set, cur.c.criteria_count, cur.c.met_count, cur.c.met_bits, cur.c.indicator_conflicts,
            prev.c.criteria_set.label("prev_set"), prev.c.criteria_count.label("prev_count"),
            prev.c.met_count.label("prev_met"), prev.c.met_bits.label("prev_bits"),
        )
        .select_from(lat)
        .outerjoin(cur, and_(cur.c.unit_id == lat.c.id, cur.c.kind == P_KIND, cur.c.year == lat.c.ly))
        .outerjoin(prev, and_(prev.c.unit_id == lat.c.id, prev.c.kind == P_KIND, prev.c.year == lat.c.py))
    )


@lru_cache(maxsize=128)
def _aggregate_stmt(coverage_count: int, year_count: int, by_child: bool, approved_only: bool, dialect: str,
                    by_ids: bool = False, by_parents: bool = False) -> Select:
    st = _statuses(year_count, approved_only, dialect, by_ids, by_parents).subquery("st")
    listed = or_(st.c.ly.is_(None), st.c.ly < st.c.y)
    both = and_(st.c.met_count.is_not(None), st.c.prev_met.is_not(None))
    bits = [
        func.sum(st.c.met_bits.op(">>")(literal_column(str(n - 1))).op("&")(literal_column("1")))
        for n in range(1, coverage_count + 1)
    ]
    # communes that are carried forward or missing come back one per row, with their code
    listed_code = case((listed, st.c.code), else_=None).label("listed_code")
    keys = (st.c.met_count, st.c.criteria_count, st.c.criteria_set, listed_code, st.c.rec)
    top = (st.c.top,) if by_child else ()
    return select(
        st.c.y,
        st.c.top if by_child else literal_column("''").label("top"),
        *keys,
        func.count().label("communes"),
        func.sum(case((both, st.c.met_count - st.c.prev_met), else_=0)).label("gain"),
        func.sum(case((both, 1), else_=0)).label("gain_communes"),
        *bits,
    ).group_by(st.c.y, *top, *keys)


@dataclass
class Aggregate:
    """What the database returns for one group of communes (a child unit, or the whole unit)."""

    # communes by (met_count, criteria_count): rule 3's status groups, merged as they are added
    groups: dict[tuple[int, int], int] = field(default_factory=dict)
    # communes meeting each criterion of the year's set: criterion n at index n − 1 (``add_coverage``)
    coverage: list[int] = field(default_factory=list)
    gain: int = 0
    gain_communes: int = 0
    carried_forward: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    # communes by the bit set of their valid recognition levels (0: none), missing ones included
    recognized: dict[int, int] = field(default_factory=dict)
    # recognised communes whose status is below its set's criteria count
    recognized_below: int = 0

    @property
    def gained(self) -> int | None:
        """Rule 9 over the communes with a status in both years; None when there are none."""
        return self.gain if self.gain_communes else None

    def status_groups(self) -> list[StatusGroup]:
        return [StatusGroup(met_count=met, criteria_count=count, communes=n) for (met, count), n in sorted(self.groups.items())]

    def add_group(self, met_count: int, criteria_count: int, communes: int) -> None:
        key = (met_count, criteria_count)
        self.groups[key] = self.groups.get(key, 0) + communes

    def add_coverage(self, values: Sequence[int], width: int) -> None:
        """Add per-criterion counts (criterion 1 first; at most ``width``, the set's criteria count)."""
        coverage = self.coverage
        if len(coverage) < width:
            coverage.extend([0] * (width - len(coverage)))
        coverage[:len(values)] = map(add, coverage, values)  # in C: a national summary adds ~700 of them

    def add(self, other: Aggregate) -> None:
        for (met, count), n in other.groups.items():
            self.add_group(met, count, n)
        self.add_coverage(other.coverage, len(other.coverage))
        self.gain += other.gain
        self.gain_communes += other.gain_communes
        self.carried_forward.extend(other.carried_forward)
        self.missing.extend(other.missing)
        for mask, n in other.recognized.items():
            self.recognized[mask] = self.recognized.get(mask, 0) + n
        self.recognized_below += other.recognized_below


async def aggregate_years(
    session: AsyncSession,
    unit: AdminUnit,
    first: int,
    last: int,
    *,
    coverage: dict[int, tuple[str, int]],
    by_child: bool = False,
    approved_only: bool = False,
    ids: list[int] | None = None,
    kind: str = AssessmentKind.chuan,
) -> dict[int, dict[str, Aggregate]]:
    """For each year of first…last: status groups, coverage of the criteria of ``coverage[year]``
    (set code, count), gain over the year before, and the carried-forward and missing communes;
    split by direct child of the unit (``top``) when ``by_child``, else all under ``""``. With ``ids``,
    over those communes valid in each year instead of the unit's (a territory through lineage)."""
    width = max((count for _, count in coverage.values()), default=0)
    out: dict[int, dict[str, Aggregate]] = defaultdict(lambda: defaultdict(Aggregate))
    rows = await session.execute(
        _aggregate_stmt(width, last - first + 1, by_child and ids is None, approved_only, _dialect(session), ids is not None),
        {"parent": unit.code, "kind": kind, **year_params(first, last), **({"ids": ids} if ids is not None else {})},
    )
    for y, top, *row in rows:
        _consume(out[y][top], y, row, coverage, kind)
    return out


def _consume(agg: Aggregate, y: int, row: Sequence[Any], coverage: dict[int, tuple[str, int]], kind: str) -> None:
    """Add one aggregate row (status group) to ``agg``: the one reading of the rows, live or stored."""
    met_count, criteria_count, set_code, listed_code, rec, communes, gain, gain_communes, *sums = row
    agg.gain += int(gain or 0)
    agg.gain_communes += int(gain_communes or 0)
    rec = int(rec or 0)
    agg.recognized[rec] = agg.recognized.get(rec, 0) + communes
    if attests(rec, kind) and met_count is not None and met_count < criteria_count:
        agg.recognized_below += communes
    if met_count is None:
        agg.missing.append(listed_code)
        return
    if listed_code is not None:
        agg.carried_forward.append(listed_code)
    agg.add_group(met_count, criteria_count, communes)
    coverage_set, coverage_count = coverage.get(y, (None, 0))
    if set_code == coverage_set:
        agg.add_coverage([int(value or 0) for value in sums[:coverage_count]], coverage_count)


_ELIGIBLE_CODES = (lambda tree: select(tree.c.code).where(tree.c.kind == UnitKind.xa.value))(_tree(1))


async def eligible_codes(session: AsyncSession, unit: AdminUnit, year: int, *, restrict_to: Iterable[str]) -> set[str]:
    """Which of the given codes are eligible communes of the unit in the year. The unit's eligible
    communes are read (at most the country's ~10,000) and intersected here: a list of codes never
    becomes one bind parameter per code (PostgreSQL refuses more than 32,767)."""
    eligible = (await session.execute(_ELIGIBLE_CODES, {"parent": unit.code, "y0": year})).scalars()
    return set(eligible) & set(restrict_to)


def _status(year: int, set_code: str, count: int, bits: int, conflicts: int = 0) -> CommuneStatus:
    return CommuneStatus(
        year=year, criteria_set=set_code, criteria_count=count,
        met=frozenset(n for n in range(1, count + 1) if bits >> (n - 1) & 1),
        indicator_conflict=bool(conflicts),
    )


@dataclass(frozen=True)
class CommuneRow:
    id: int
    code: str
    name: str
    status: CommuneStatus | None
    previous: CommuneStatus | None
    recognized: bool


@lru_cache(maxsize=4)
def _commune_rows_stmt(approved_only: bool, dialect: str) -> Select:
    st = _statuses(1, approved_only, dialect).subquery("st")
    return select(st).order_by(st.c.code)


async def commune_rows(
    session: AsyncSession, unit: AdminUnit, year: int, *, approved_only: bool = False,
    kind: str = AssessmentKind.chuan,
) -> list[CommuneRow]:
    """Each eligible commune with its status of ``kind`` in Y and Y−1, and whether it holds a recognition valid in
    Y that attests that kind's standard (``recognitions.rules.attests``)."""
    rows = await session.execute(_commune_rows_stmt(approved_only, _dialect(session)),
                                 {"parent": unit.code, "y0": year, "kind": kind})
    out: list[CommuneRow] = []
    for r in rows.mappings():
        status = None if r["met_count"] is None else _status(r["ly"], r["criteria_set"], r["criteria_count"],
                                                             r["met_bits"], r["indicator_conflicts"] or 0)
        previous = (
            None if r["prev_met"] is None else _status(year - 1, r["prev_set"], r["prev_count"], r["prev_bits"])
        )
        out.append(CommuneRow(id=r["id"], code=r["code"], name=r["name"], status=status, previous=previous,
                              recognized=attests(int(r["rec"] or 0), kind)))
    return out


def _data_years_stmt() -> Select:
    anchor = select(UNITS.c.code, UNITS.c.level).where(UNITS.c.parent_code == P_PARENT)
    below = anchor.cte("ever_below", recursive=True)
    child = UNITS.alias("child")
    below = below.union_all(
        select(child.c.code, child.c.level)
        .join(below, child.c.parent_code == below.c.code)
        .where(below.c.level != UnitLevel.commune.value)
    )
    codes = select(below.c.code).where(below.c.level == UnitLevel.commune.value)
    return select(func.min(ASSESSMENTS.c.year), func.max(ASSESSMENTS.c.year)).where(
        ASSESSMENTS.c.commune_code.in_(codes), ASSESSMENTS.c.kind == P_KIND
    )


_DATA_YEARS = _data_years_stmt()


async def data_years(session: AsyncSession, unit: AdminUnit, *, kind: str = AssessmentKind.chuan
                     ) -> tuple[int, int] | None:
    """First and last year with an assessment of ``kind`` of any commune that was ever below the unit."""
    first, last = (await session.execute(_DATA_YEARS, {"parent": unit.code, "kind": kind})).one()
    return None if first is None else (first, last)


DISTRICT_KINDS = tuple(k.value for k in (UnitKind.huyen, UnitKind.thi_xa, UnitKind.thanh_pho, UnitKind.quan))


# ---- today's territory through lineage (trend?basis=current) --------------------------------

_BELOW_ON = select(AdminUnit).where(col(AdminUnit.parent_code).in_(bindparam("codes", expanding=True)), _valid(UNITS, P_DAY))


async def communes_under_on(session: AsyncSession, unit: AdminUnit, day: dt.date) -> list[AdminUnit]:
    """Every commune-level unit below the unit on the day (following the parent links valid then)."""
    found: list[AdminUnit] = []
    codes = [unit.code]
    for _ in range(MAX_DEPTH):
        if not codes:
            break
        rows = list((await session.execute(_BELOW_ON, {"codes": codes, "day": day})).scalars())
        found += [u for u in rows if u.level == UnitLevel.commune.value]
        codes = [u.code for u in rows if u.level != UnitLevel.commune.value]
    return found


async def lineage_closure(session: AsyncSession, start: Iterable[int]) -> tuple[dict[int, set[int]], set[int]]:
    """The successor edges of every unit the ``start`` units came from (any number of steps back) and of
    every unit those became (any number of steps forward): ({predecessor: successors}, every id met)."""
    pred_id, succ_id = col(UnitLineage.predecessor_id), col(UnitLineage.successor_id)
    successors: dict[int, set[int]] = defaultdict(set)
    seen = set(start)
    back, forward = set(start), set(start)
    while back or forward:
        rows = await session.execute(
            select(pred_id, succ_id).where(or_(succ_id.in_(sorted(back)), pred_id.in_(sorted(forward))))
        )
        new_back: set[int] = set()
        new_forward: set[int] = set()
        for pred, succ in rows:
            if succ in back and pred not in seen:
                new_back.add(pred)
            successors[pred].add(succ)
            for uid in (pred, succ):
                if uid not in seen:
                    new_forward.add(uid)
        new_forward |= new_back
        seen |= new_back | new_forward
        back, forward = new_back, new_forward
    return successors, seen


async def units_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, AdminUnit]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(select(AdminUnit).where(col(AdminUnit.id).in_(wanted)))
    return {u.id: u for u in rows.scalars() if u.id is not None}


_DATA_YEARS_OF = select(func.min(ASSESSMENTS.c.year), func.max(ASSESSMENTS.c.year)).where(
    ASSESSMENTS.c.unit_id.in_(bindparam("ids", expanding=True)), ASSESSMENTS.c.kind == P_KIND)


async def data_years_of(session: AsyncSession, ids: list[int], *, kind: str = AssessmentKind.chuan
                        ) -> tuple[int, int] | None:
    """First and last year with an assessment of ``kind`` of any of these communes."""
    if not ids:
        return None
    first, last = (await session.execute(_DATA_YEARS_OF, {"ids": ids, "kind": kind})).one()
    return None if first is None else (first, last)

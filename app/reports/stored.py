"""The reports' aggregates, summed from rows stored per parent unit and year (issue 14).

A national summary would otherwise walk ~10,000 communes after every write. The commune-level
aggregation (``queries._aggregate_stmt``) is grouped instead by each commune's *parent code*
(the district, or after the 2025 reform the province, whose code its ``parent_code`` names) and
kept in ``report_agg`` (``app/reports/tables.py``), one row per parent, kind, ``approved_only``
and year, tagged with the epochs that database triggers move in every writer's own transaction
(``app/core/aggregate_epochs.py``). A read:

1. takes, per year, the parents below the unit and the direct child each lies under (the unit's
   own communes: ``OWN``, never a child's code) from the unit's ``walk.walk``;
2. reads the stored rows whose tags still equal the current epochs (one statement: the rows and
   the epochs they are judged by, in one snapshot);
3. for the missing or stale (parent, year) pairs, reads their epochs, then computes them live in
   one statement grouped by parent; every body holds what ``queries._consume`` would add from
   that parent's rows (``_body``), and a read adds the bodies up (``_apply``): the same figures,
   exactly;
4. after its transaction ended, stores what it computed, in a short write transaction of its
   own, tagged with the epochs read in 3 *before* computing: a writer that committed in between
   moved an epoch, so that row is never used. Storing is best effort (a failure is logged and
   ignored) and stales no cached report (the tables are not in ``app/core/changes.py``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import AFTERWARDS_KEY, AGGREGATES_KEY, Database
from app.criteria.models import AssessmentKind, CriteriaSet
from app.recognitions.rules import attests
from app.reports import queries
from app.reports.queries import ASSESSMENTS, UNITS, Aggregate, _aggregate_stmt, _dialect
from app.reports.tables import EVERYTHING, ReportAgg, ReportAggEpoch
from app.reports.walk import OWN, Walk
from app.units.models import AdminUnit

_log = logging.getLogger("ntm.reports")

AGG: Table = ReportAgg.__table__  # type: ignore[attr-defined]  # SQLModel's stubs do not declare __table__
EPOCHS: Table = ReportAggEpoch.__table__  # type: ignore[attr-defined]
SETS: Table = CriteriaSet.__table__  # type: ignore[attr-defined]

_EPOCHS = select(EPOCHS.c.parent_code, EPOCHS.c.epoch).where(EPOCHS.c.parent_code.in_(bindparam("codes", expanding=True)))


def _valid_rows_stmt(all_parents: bool = False) -> Any:
    mine = EPOCHS.alias("mine")
    # the global epoch read once per statement (PostgreSQL: an InitPlan), not looked up for every
    # row (a national read: 767 index lookups, 1.5 ms)
    every = select(EPOCHS.c.epoch).where(EPOCHS.c.parent_code == EVERYTHING).scalar_subquery()
    return (
        select(AGG.c.parent_code, AGG.c.year, AGG.c.body)
        .select_from(AGG.outerjoin(mine, mine.c.parent_code == AGG.c.parent_code))
        .where(
            *(() if all_parents else (AGG.c.parent_code.in_(bindparam("parents", expanding=True)),)),
            AGG.c.kind == bindparam("kind"), AGG.c.approved_only == bindparam("approved_only"),
            AGG.c.year >= bindparam("first"), AGG.c.year <= bindparam("last"),
            AGG.c.epoch == func.coalesce(mine.c.epoch, 0),
            AGG.c.global_epoch == func.coalesce(every, 0),
        )
    )


_VALID_ROWS = _valid_rows_stmt()
_VALID_ROWS_ALL = _valid_rows_stmt(all_parents=True)
FEW = 50  # parents named in the statement up to this many
_WIDEST = select(func.max(SETS.c.criteria_count))


def _trimmed(sums: Sequence[Any]) -> list[int]:
    values = [int(v or 0) for v in sums]
    while values and values[-1] == 0:
        values.pop()
    return values


FORMAT = "v1"  # a stored body in another format is recomputed


def _body(rows: list[Sequence[Any]], kind: str) -> list[Any]:
    """One parent's aggregate rows of a year (``queries._aggregate_stmt``), summed into what
    ``queries._consume`` would add from them, as one flat list (one container per body: thousands
    of small lists and dicts per national read cost garbage-collector pauses of tens of ms)::

        [FORMAT, gain, gain_communes, recognised below their set's count,
         G, (met_count, criteria_count, communes) × G,       status groups
         R, (recognition bits, communes) × R,                communes by recognition bits
         S, (criteria set, L, bit sum × L) × S,              bit sums per set (a reader takes its set's)
         C, carried-forward code × C, M, missing code × M]

    ``[]`` for a parent without eligible communes."""
    if not rows:
        return []
    groups: dict[tuple[int, int], int] = {}
    sums: dict[str, list[int]] = {}
    recognized: dict[int, int] = {}
    gain = gain_communes = below = 0
    carried: list[str] = []
    missing: list[str] = []
    for met_count, criteria_count, set_code, listed_code, rec, communes, row_gain, row_gain_communes, *bits in rows:
        rec = int(rec or 0)
        communes = int(communes)
        gain += int(row_gain or 0)
        gain_communes += int(row_gain_communes or 0)
        recognized[rec] = recognized.get(rec, 0) + communes
        if attests(rec, kind) and met_count is not None and met_count < criteria_count:
            below += communes
        if met_count is None:
            missing.append(listed_code)
            continue
        if listed_code is not None:
            carried.append(listed_code)
        groups[(met_count, criteria_count)] = groups.get((met_count, criteria_count), 0) + communes
        into = sums.setdefault(set_code, [])
        for n, value in enumerate(bits):
            if n == len(into):
                into.append(0)
            into[n] += int(value or 0)
    out: list[Any] = [FORMAT, gain, gain_communes, below, len(groups)]
    for (met, count), n in sorted(groups.items()):
        out += [met, count, n]
    out.append(len(recognized))
    for rec, n in sorted(recognized.items()):
        out += [rec, n]
    out.append(len(sums))
    for code, values in sorted(sums.items()):
        trimmed = _trimmed(values)
        out += [code, len(trimmed), *trimmed]
    out += [len(carried), *sorted(carried), len(missing), *sorted(missing)]
    return out


def _usable(body: Any) -> bool:
    return isinstance(body, list) and (not body or body[0] == FORMAT)


def _apply(agg: Aggregate, body: list[Any], coverage_set: str | None, coverage_count: int) -> None:
    """Add a stored body to ``agg``: the same sums as ``queries._consume`` over the rows it was made of."""
    agg.gain += body[1]
    agg.gain_communes += body[2]
    agg.recognized_below += body[3]
    # inlined (a national summary applies ~770 bodies): the same sums as ``add_group`` and the loops of ``_consume``
    groups, recognized = agg.groups, agg.recognized
    i = 5
    for _ in range(body[4]):
        key = (body[i], body[i + 1])
        groups[key] = groups.get(key, 0) + body[i + 2]
        i += 3
    count, i = body[i], i + 1
    for _ in range(count):
        recognized[body[i]] = recognized.get(body[i], 0) + body[i + 1]
        i += 2
    count, i = body[i], i + 1
    for _ in range(count):
        code, length = body[i], body[i + 1]
        if coverage_set is not None and code == coverage_set:
            agg.add_coverage(body[i + 2:i + 2 + min(length, coverage_count)], coverage_count)
        i += 2 + length
    count, i = body[i], i + 1
    agg.carried_forward.extend(body[i:i + count])
    i += count
    count, i = body[i], i + 1
    agg.missing.extend(body[i:i + count])


async def compute(session: AsyncSession, parents: list[str], years: list[int], *, approved_only: bool, kind: str
                  ) -> dict[tuple[str, int], list[Any]]:
    """The stored body of each parent and year, live: one statement grouped by parent code."""
    rows_of: dict[tuple[str, int], list[Sequence[Any]]] = {(p, y): [] for p in parents for y in years}
    if parents and years:
        # every criterion a body may be asked about: the widest set's (bits above it are never set)
        width = int((await session.execute(_WIDEST)).scalar_one() or 0)
        rows = await session.execute(
            _aggregate_stmt(width, len(years), True, approved_only, _dialect(session), False, True),
            {"parents": parents, "kind": kind, **{f"y{i}": y for i, y in enumerate(years)}},
        )
        for y, parent, *row in rows:
            rows_of.setdefault((parent, y), []).append(row)
    return {key: _body(rows, kind) for key, rows in rows_of.items()}


async def aggregate_years(
    session: AsyncSession, unit: AdminUnit, below: Walk, *, coverage: dict[int, tuple[str, int]],
    by_child: bool = False, approved_only: bool = False, kind: str = AssessmentKind.chuan,
) -> dict[int, dict[str, Aggregate]]:
    """``queries.aggregate_years`` over the years of ``below`` (the unit's ``walk``), from the stored
    rows where still valid (the same result; the unit's own communes under ``OWN`` rather than their
    codes when ``by_child``). Live when the session's transaction says so (``Settings.report_aggregates`` off)."""
    if not below.years:
        return {}
    first, last = below.years[0], below.years[-1]
    if not session.info.get(AGGREGATES_KEY, False):
        return await queries.aggregate_years(session, unit, first, last, coverage=coverage, by_child=by_child,
                                             approved_only=approved_only, kind=kind)
    tops = below.tops
    parents = sorted({p for found in tops.values() for p in found})
    bodies: dict[tuple[str, int], Any] = {}
    params = {"kind": str(kind), "approved_only": approved_only, "first": first, "last": last}
    # many parents (a province, the country): every stored row of the years, the others dropped here
    rows = await session.execute(_VALID_ROWS if len(parents) <= FEW else _VALID_ROWS_ALL,
                                 {**params, "parents": parents} if len(parents) <= FEW else params)
    for parent, year, body in rows:
        if year in tops and parent in tops[year] and _usable(body):  # else: another format, recomputed
            bodies[(parent, year)] = body
    stale = [(p, y) for y, found in tops.items() for p in found if (p, y) not in bodies]
    if stale:
        stale_parents = sorted({p for p, _ in stale})
        # the epochs the stored rows will be tagged with: read before computing (a write committed
        # after this read moved them, so what is computed from it is never taken for valid)
        epochs = {code: epoch for code, epoch in await session.execute(_EPOCHS, {"codes": [*stale_parents, EVERYTHING]})}
        fresh = await compute(session, stale_parents, sorted({y for _, y in stale}), approved_only=approved_only,
                              kind=str(kind))
        keep = [_tagged(p, str(kind), approved_only, y, epochs, fresh[(p, y)]) for p, y in sorted(stale)]
        for p, y in stale:
            bodies[(p, y)] = fresh[(p, y)]
        session.info.setdefault(AFTERWARDS_KEY, []).append(lambda db: store(db, keep))
    out: dict[int, dict[str, Aggregate]] = defaultdict(lambda: defaultdict(Aggregate))
    for (parent, y), body in bodies.items():
        if not body:
            continue
        coverage_set, coverage_count = coverage.get(y, (None, 0))
        _apply(out[y][tops[y][parent] if by_child else OWN], body, coverage_set, coverage_count)
    return out


def _tagged(parent: str, kind: str, approved_only: bool, year: int, epochs: dict[str, int], body: Any
            ) -> dict[str, Any]:
    """A computed body as a ``report_agg`` row, tagged with the epochs read before computing it."""
    return {"parent_code": parent, "kind": kind, "approved_only": approved_only, "year": year,
            "epoch": epochs.get(parent, 0), "global_epoch": epochs.get(EVERYTHING, 0), "body": body}


STORE_CHUNK = 500  # rows per INSERT (7 parameters each: far below every driver's limit)


async def store(db: Database, rows: list[dict[str, Any]]) -> None:
    """Upsert computed rows, in key order (two stores never wait on each other crosswise); a row
    replaces a stored one only when its epochs are not older."""
    if not rows:
        return
    dialect_insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
    async with db.transaction() as session:
        for start in range(0, len(rows), STORE_CHUNK):
            stmt = dialect_insert(AGG).values(rows[start:start + STORE_CHUNK])
            new = stmt.excluded
            stmt = stmt.on_conflict_do_update(
                index_elements=[AGG.c.parent_code, AGG.c.kind, AGG.c.approved_only, AGG.c.year],
                set_={"epoch": new.epoch, "global_epoch": new.global_epoch, "body": new.body},
                where=or_(AGG.c.global_epoch < new.global_epoch,
                          and_(AGG.c.global_epoch == new.global_epoch, AGG.c.epoch <= new.epoch)),
            )
            await session.execute(stmt)


async def rebuild(db: Database) -> dict[str, int]:
    """Clear every stored aggregate and recompute them, for every parent with communes, kind with
    assessments, both ``approved_only`` and every year with assessments: counts of what was done."""
    async with db.transaction() as session:
        deleted = getattr(await session.execute(AGG.delete()), "rowcount", 0) or 0
    async with db.transaction(write=False) as session:
        span = (await session.execute(select(func.min(ASSESSMENTS.c.year), func.max(ASSESSMENTS.c.year)))).one()
        kinds = sorted((await session.execute(select(ASSESSMENTS.c.kind).distinct())).scalars())
        parents = sorted(
            code for code in (await session.execute(select(UNITS.c.parent_code).distinct())).scalars() if code is not None
        )
    stored = 0
    if span[0] is None:
        return {"deleted": deleted, "stored": 0, "parents": len(parents), "kinds": 0, "years": 0}
    years = list(range(span[0], span[1] + 1))
    for kind in kinds:
        for approved_only in (False, True):
            for year in years:
                async with db.transaction(write=False) as session:
                    epochs = {code: epoch for code, epoch in await session.execute(_EPOCHS, {"codes": [*parents, EVERYTHING]})}
                    fresh = await compute(session, parents, [year], approved_only=approved_only, kind=str(kind))
                rows = [_tagged(p, str(kind), approved_only, year, epochs, fresh[(p, year)]) for p in parents]
                await store(db, rows)
                stored += len(rows)
    return {"deleted": deleted, "stored": stored, "parents": len(parents), "kinds": len(kinds), "years": len(years)}

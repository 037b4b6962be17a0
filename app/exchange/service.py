"""Importing a year of assessments from a spreadsheet: all rows or none.

The file is read and checked first (``sheets``, ``rules``), then every row is checked
against the database in a few set-wise queries (units, scope, existing assessments, locks),
and only when no row has an error is anything written — in bulk statements, inside the
request's one transaction, with one audit record per assessment created or changed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, and_, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from app.assessments.models import Assessment, AssessmentCriterion, AssessmentStatus
from app.assessments.service import met_bits
from app.audit.models import AuditRecord
from app.auth.models import Principal, Role
from app.auth.rules import Action, allowed
from app.core.errors import AppError, PayloadTooLarge
from app.core.types import utcnow
from app.criteria import service as criteria_service
from app.criteria.models import CriteriaSet, Criterion
from app.exchange import rules, sheets
from app.exchange.models import ImportError_, ImportResult
from app.exchange.workbooks import CommuneLine, ReportData
from app.plan_indicators import service as plan_indicators
from app.reports import queries
from app.reports import service as reports_service
from app.units.models import AdminUnit, UnitLevel, is_ntm_eligible
from app.units.service import valid_on, year_end

CHUNK = 2000  # codes per IN (…) list: far below every driver's bound-parameter limit

A = Assessment.__table__  # type: ignore[attr-defined]
C = AssessmentCriterion.__table__  # type: ignore[attr-defined]
U = AdminUnit.__table__  # type: ignore[attr-defined]
AUDIT = AuditRecord.__table__  # type: ignore[attr-defined]


class UnsupportedFile(AppError):
    status, title, slug = 415, "Unsupported file", "unsupported-file"


class ImportRejected(AppError):
    """The file has errors (422) or rows outside the caller's scope (403): nothing was written."""

    def __init__(self, result: ImportResult, *, status: int = 422) -> None:
        count = len(result.errors)
        detail = (f"{count} error{'s' if count != 1 else ''} in the file; nothing was written."
                  if status == 422 else "Some rows are outside your scope; nothing was written.")
        super().__init__(detail)
        self.status = status
        self.title = "Import rejected" if status == 422 else "Forbidden"
        self.slug = "import-rejected" if status == 422 else "forbidden"
        self.result = result

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body = {"type": "/problems/" + self.slug, "title": self.title, "status": self.status, "detail": self.detail}
        if instance:
            body["instance"] = instance
        body.update(self.result.model_dump(mode="json"))
        return body


@dataclass(frozen=True)
class _Unit:
    id: int
    code: str
    name: str
    level: str
    kind: str
    parent_code: str | None


@dataclass(frozen=True)
class _Existing:
    id: int
    unit_id: int
    criteria_set: str
    met_bits: int
    met_count: int
    status: str
    version: int


def _error(row: int, column: str | None, value: str | None, message: str) -> ImportError_:
    return ImportError_(row=row, column=column, value=value, message=message)


async def read_file(data: bytes, *, max_rows: int, max_unzipped_bytes: int) -> list[sheets.Sheet]:
    """Parse the upload off the event loop (a national workbook takes seconds of CPU)."""
    try:
        return await run_in_threadpool(sheets.read, data, max_rows=max_rows, max_unzipped_bytes=max_unzipped_bytes)
    except sheets.SheetError as exc:
        if exc.status == 415:
            raise UnsupportedFile(exc.message) from None
        if exc.status == 413:
            raise PayloadTooLarge(exc.message) from None
        raise ImportRejected(_empty_result(0, "", False, [_error(1, None, None, exc.message)])) from None


def _empty_result(year: int, set_code: str, dry_run: bool, errors: list[ImportError_]) -> ImportResult:
    return ImportResult(year=year, criteria_set=set_code, dry_run=dry_run, rows=0, created=0, updated=0,
                        unchanged=0, skipped=0, errors=errors)


async def _units(session: AsyncSession, codes: Sequence[str], day: dt.date) -> dict[str, _Unit]:
    out: dict[str, _Unit] = {}
    for start in range(0, len(codes), CHUNK):
        rows = await session.execute(
            select(U.c.id, U.c.code, U.c.name, U.c.level, U.c.kind, U.c.parent_code)
            .where(U.c.code.in_(codes[start:start + CHUNK]), valid_on(day))
        )
        for r in rows:
            out[r.code] = _Unit(r.id, r.code, r.name, r.level, r.kind, r.parent_code)
    return out


async def _parents(session: AsyncSession, day: dt.date) -> dict[str, str | None]:
    """code → parent code of every unit above commune level valid on the day (a few hundred rows)."""
    rows = await session.execute(
        select(U.c.code, U.c.parent_code).where(U.c.level != UnitLevel.commune.value, valid_on(day))
    )
    return {r.code: r.parent_code for r in rows}


def _chain(unit: _Unit, parents: dict[str, str | None]) -> list[str]:
    codes = [unit.code]
    parent = unit.parent_code
    while parent is not None and len(codes) < 8:
        codes.append(parent)
        parent = parents.get(parent)
    return codes


async def _existing(session: AsyncSession, unit_ids: Sequence[int], year: int, *, lock: bool) -> dict[int, _Existing]:
    out: dict[int, _Existing] = {}
    for start in range(0, len(unit_ids), CHUNK):
        stmt = select(A.c.id, A.c.unit_id, A.c.criteria_set, A.c.met_bits, A.c.met_count, A.c.status,
                      A.c.version).where(A.c.year == year, A.c.unit_id.in_(unit_ids[start:start + CHUNK]))
        if lock:
            stmt = stmt.with_for_update()
        for r in await session.execute(stmt):
            out[r.unit_id] = _Existing(r.id, r.unit_id, r.criteria_set, r.met_bits, r.met_count, r.status, r.version)
    return out


def _met(bits: int, count: int) -> list[int]:
    return [n for n in range(1, count + 1) if bits >> (n - 1) & 1]


def _snapshot(set_code: str, bits: int, count: int, version: int, status: str) -> dict[str, Any]:
    met = _met(bits, count)
    return {"criteria_set": set_code, "met": met, "met_count": len(met), "version": version, "status": status}


async def import_assessments(
    session: AsyncSession,
    *,
    principal: Principal,
    files: list[sheets.Sheet],
    year: int,
    dry_run: bool,
    request_id: str | None,
) -> ImportResult:
    """Check every row, then write them all (unless ``dry_run``); raise ``ImportRejected`` on any error."""
    cset: CriteriaSet = await criteria_service.set_in_force(session, year, location="query")
    table = rules.find_table(files)
    if table is None:
        names = ", ".join(repr(s.name) for s in files)
        raise ImportRejected(_empty_result(year, cset.code, dry_run, [_error(
            1, None, None, f"no sheet has a commune code column (`commune_code` or `Mã xã`) in row 1; "
                           f"sheets found: {names}")]))
    parsed = await run_in_threadpool(rules.parse, table, cset.criteria_count)
    errors = [_error(e.row, e.column, e.value, e.message) for e in parsed.errors]
    if any(e.row == 1 for e in parsed.errors):
        raise ImportRejected(_empty_result(year, cset.code, dry_run, errors))

    day = year_end(year)
    units = await _units(session, [r.code for r in parsed.rows], day)
    parents = await _parents(session, day) if principal.role != Role.admin else {}
    code_col, name_col = parsed.code_column, parsed.name_column
    out_of_scope: list[ImportError_] = []
    good: list[tuple[rules.ParsedRow, _Unit]] = []
    for row in parsed.rows:
        unit = units.get(row.code)
        if unit is None:
            errors.append(_error(row.row, code_col, row.code, f"no unit has the code {row.code} in {year}"))
            continue
        if unit.level != UnitLevel.commune.value or not is_ntm_eligible(unit.kind):
            errors.append(_error(row.row, code_col, row.code,
                                 f"{unit.name} ({unit.code}) is a {unit.kind} in {year}: only communes (xã) are "
                                 "assessed against the NTM criteria"))
            continue
        if row.name is not None and not rules.same_name(row.name, unit.name):
            errors.append(_error(row.row, name_col, row.name,
                                 f"the name does not match commune {unit.code}, which is {unit.name} in {year}"))
            continue
        if principal.role != Role.admin and not allowed(
            principal.role, principal.unit_code, Action.assessment_write, _chain(unit, parents)
        ):
            out_of_scope.append(_error(row.row, code_col, row.code,
                                       f"{principal.actor} may not write assessments of {unit.name} ({unit.code})"))
            continue
        good.append((row, unit))

    existing = await _existing(session, [u.id for _, u in good], year, lock=not dry_run and not errors)
    new_rows: list[tuple[rules.ParsedRow, _Unit, int]] = []
    changed: list[tuple[rules.ParsedRow, _Unit, _Existing, int]] = []
    unchanged = 0
    for row, unit in good:
        bits = met_bits(sorted(row.met))
        before = existing.get(unit.id)
        if before is None:
            new_rows.append((row, unit, bits))
        elif before.criteria_set == cset.code and before.met_bits == bits:
            unchanged += 1
        elif before.status == AssessmentStatus.approved.value:
            errors.append(_error(row.row, code_col, row.code,
                                 f"the {year} assessment of {unit.name} ({unit.code}) is approved and locked; "
                                 "reopen it before changing it"))
        else:
            changed.append((row, unit, before, bits))

    errors.sort(key=lambda e: (e.row, e.column or ""))
    result = ImportResult(
        year=year, criteria_set=cset.code, dry_run=dry_run, rows=len(parsed.rows), created=len(new_rows),
        updated=len(changed), unchanged=unchanged, skipped=parsed.skipped, errors=errors,
    )
    if out_of_scope and not errors:
        raise ImportRejected(result.model_copy(update={"errors": out_of_scope}), status=403)
    if errors or out_of_scope:
        raise ImportRejected(result.model_copy(update={"errors": sorted(errors + out_of_scope,
                                                                         key=lambda e: (e.row, e.column or ""))}))
    if not dry_run and (new_rows or changed):
        await _write(session, cset, year, new_rows, changed, parents, principal, request_id)
    return result


async def _write(
    session: AsyncSession,
    cset: CriteriaSet,
    year: int,
    new_rows: list[tuple[rules.ParsedRow, _Unit, int]],
    changed: list[tuple[rules.ParsedRow, _Unit, _Existing, int]],
    parents: dict[str, str | None],
    principal: Principal,
    request_id: str | None,
) -> None:
    now = utcnow()
    count = cset.criteria_count
    if not parents:
        parents = await _parents(session, year_end(year))
    audit: list[dict[str, Any]] = []

    def record(unit: _Unit, action: str, before: Any, after: Any) -> None:
        chain = _chain(unit, parents)
        audit.append({
            "at": now, "actor": principal.actor, "action": action, "entity": "assessment",
            "key": f"{unit.code}/{year}", "unit_path": "/" + "/".join(reversed(chain)) + "/",
            "before": before, "after": after, "request_id": request_id,
        })

    if new_rows:
        inserted = await session.execute(
            insert(A).returning(A.c.id, sort_by_parameter_order=True),
            [
                {"unit_id": unit.id, "commune_code": unit.code, "year": year, "criteria_set": cset.code,
                 "criteria_count": count, "met_count": len(row.met), "met_bits": bits,
                 "status": AssessmentStatus.draft.value, "version": 1, "created_at": now, "updated_at": now}
                for row, unit, bits in new_rows
            ],
        )
        ids = list(inserted.scalars())
        await _insert_criteria(session, ((aid, row.met) for aid, (row, _, _) in zip(ids, new_rows, strict=True)), count)
        for row, unit, bits in new_rows:
            record(unit, "import_create", None, _snapshot(cset.code, bits, count, 1, AssessmentStatus.draft.value))

    if changed:
        await session.execute(
            update(A).where(A.c.id == bindparam("b_id")).values(
                criteria_set=bindparam("b_set"), criteria_count=bindparam("b_count"),
                met_count=bindparam("b_met_count"), met_bits=bindparam("b_bits"),
                version=A.c.version + 1, updated_at=bindparam("b_now"),
            ),
            [{"b_id": before.id, "b_set": cset.code, "b_count": count, "b_met_count": len(row.met), "b_bits": bits,
              "b_now": now} for row, _, before, bits in changed],
        )
        same_set = [(row, before, bits) for row, _, before, bits in changed if before.criteria_set == cset.code]
        other_set = [(row, before) for row, _, before, _ in changed if before.criteria_set != cset.code]
        flips = [
            {"b_aid": before.id, "b_num": n, "b_met": bool(bits >> (n - 1) & 1)}
            for _, before, bits in same_set
            for n in range(1, count + 1)
            if (before.met_bits ^ bits) >> (n - 1) & 1
        ]
        if flips:
            await session.execute(
                update(C).where(and_(C.c.assessment_id == bindparam("b_aid"), C.c.number == bindparam("b_num")))
                .values(met=bindparam("b_met")),
                flips,
            )
        if other_set:
            ids = [before.id for _, before in other_set]
            for start in range(0, len(ids), CHUNK):
                await session.execute(delete(C).where(C.c.assessment_id.in_(ids[start:start + CHUNK])))
            await _insert_criteria(session, ((before.id, row.met) for row, before in other_set), count)
        for row, unit, before, bits in changed:
            record(unit, "import_update",
                   _snapshot(before.criteria_set, before.met_bits, _count_of(before, count), before.version,
                             before.status),
                   _snapshot(cset.code, bits, count, before.version + 1, before.status))

    await bulk_insert(session, AUDIT, audit)


def _count_of(before: _Existing, fallback: int) -> int:
    return max(fallback, before.met_bits.bit_length())


async def _insert_criteria(session: AsyncSession, rows: Iterable[tuple[int, frozenset[int]]], count: int) -> None:
    await bulk_insert(
        session, C,
        [{"assessment_id": aid, "number": n, "met": n in met, "note": None, "indicators": None}
         for aid, met in rows for n in range(1, count + 1)],
    )


async def bulk_insert(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: PostgreSQL's COPY (through asyncpg, ~10× faster
    than INSERT for a national year's 190,000 criterion rows), an executemany INSERT elsewhere."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    as_json = {name for name in columns if isinstance(table.c[name].type, JSON)}
    records = [
        tuple(json.dumps(row[name]) if name in as_json and row[name] is not None else row[name] for name in columns)
        for row in rows
    ]
    driver = (await connection.get_raw_connection()).driver_connection
    await driver.copy_records_to_table(table.name, records=records, columns=columns)


__all__ = ["ImportRejected", "UnsupportedFile", "import_assessments", "read_file"]


# ---- reading for the template, the report and the charts ----------------------------------------


async def _own_assessments(session: AsyncSession, codes: Sequence[str], year: int) -> dict[str, tuple[str, int]]:
    """commune code → (criteria set, met bits) of the communes' own assessments in the year."""
    out: dict[str, tuple[str, int]] = {}
    for start in range(0, len(codes), CHUNK):
        rows = await session.execute(
            select(A.c.commune_code, A.c.criteria_set, A.c.met_bits)
            .where(A.c.year == year, A.c.commune_code.in_(codes[start:start + CHUNK]))
        )
        out.update((r.commune_code, (r.criteria_set, r.met_bits)) for r in rows)
    return out


async def report_data(
    session: AsyncSession, unit: AdminUnit, year: int, *, with_figures: bool, approved_only: bool = False
) -> ReportData:
    """The unit's communes in the year with their own marks, flags and bands; with the summary and trend
    when ``with_figures`` (the report), without them (the template)."""
    cset = await criteria_service.set_in_force(session, year, location="query")
    criteria = [(r.number, r.name) for r in await session.execute(
        select(Criterion.number, Criterion.name).where(Criterion.set_code == cset.code).order_by(Criterion.number))]
    flag_rows = await reports_service.flags(session, unit, year, approved_only=approved_only)
    own = await _own_assessments(session, [f.commune_code for f in flag_rows], year)
    lines = []
    for f in flag_rows:
        mine = own.get(f.commune_code)
        met = (frozenset(_met(mine[1], cset.criteria_count)) if mine is not None and mine[0] == cset.code else None)
        lines.append(CommuneLine(code=f.commune_code, name=f.name, met=met, met_count=f.met_count, band=f.band,
                                 flags=[x.value for x in f.flags]))
    data = ReportData(unit_code=unit.code, unit_name=unit.name, year=year, criteria_set=cset.code,
                      criteria=criteria, communes=lines)
    if with_figures:
        data.summary = await reports_service.summary(session, unit, year, approved_only=approved_only)
        span = await queries.data_years(session, unit)
        first = min(span[0], year) if span else year
        data.trend = await reports_service.trend(session, unit, first=first, last=year, approved_only=approved_only)
        data.plan_indicators = await plan_indicators.lines_for_report(session, unit, year)
    return data

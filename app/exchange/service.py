"""Importing a year of assessments from a spreadsheet: all rows or none.

The file is read and checked first (``sheets``, ``rules``), then every row is checked
against the database in a few set-wise queries (units, scope, existing assessments, locks),
and only when no row has an error is anything written — in bulk statements, inside the
request's one transaction, with one audit record per assessment created or changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from sqlalchemy import JSON, and_, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from app.assessments import rules as assessment_rules
from app.assessments import service as assessments_service
from app.assessments.models import Assessment, AssessmentCriterion, AssessmentStatus
from app.assessments.schemas import AssessmentPublic, CriterionResult
from app.audit import service as audit
from app.audit.models import AuditRecord
from app.auth.models import Principal
from app.auth.rules import Action, allowed
from app.core import aggregate_epochs, locks, sheets
from app.core.errors import AppError, InvalidInput, OutcomeProblem, PayloadTooLarge
from app.core.types import utcnow
from app.criteria import service as criteria_service
from app.criteria.models import AssessmentKind, CriteriaSet, Criterion, Indicator
from app.criteria.thresholds import Op
from app.exchange import rules, workbooks
from app.exchange.models import ImportError_, ImportRequest, ImportResult
from app.exchange.workbooks import CommuneLine, ReportData
from app.plan_indicators import service as plan_indicators
from app.reports import queries
from app.reports import service as reports_service
from app.units import rules as units_rules
from app.units import service as units_service
from app.units.models import AdminUnit
from app.units.rules import UnitChain
from app.units.service import valid_on, year_end

CHUNK = 2000  # codes per IN (…) list: far below every driver's bound-parameter limit
# rows planned and written at a time: their criteria, audit views and records, statements' parameters
# are built for a chunk and dropped (a national file's, all at once, cost ~1.3 GB with 18 indicator columns)
WRITE_CHUNK = 100  # 1,000 rows with 18 indicator columns: ~80 MB of peak; 250: ~20 MB (bench/README.md)

A = Assessment.__table__  # type: ignore[attr-defined]
C = AssessmentCriterion.__table__  # type: ignore[attr-defined]
U = AdminUnit.__table__  # type: ignore[attr-defined]
AUDIT = AuditRecord.__table__  # type: ignore[attr-defined]


class UnsupportedFile(AppError):
    status, title, slug = 415, "Unsupported file", "unsupported-file"


MAX_LISTED_ERRORS = sheets.MAX_LISTED_ERRORS  # contract v1.3: at most 1,000 listed, then one entry "and N more"


class ImportRejected(OutcomeProblem):
    """The file has errors (422) or rows outside the caller's scope (403): nothing was written.
    ``errors``: all of them counted, the first kept (``sheets.Errors``); else ``result.errors``."""

    def __init__(self, result: ImportResult, *, status: int = 422,
                 errors: sheets.Errors[ImportError_] | None = None) -> None:
        if errors is None:
            errors = sheets.Errors()
            errors.extend(result.errors)
        count = errors.count
        detail = (f"{count} error{'s' if count != 1 else ''} in the file; nothing was written."
                  if status == 422 else "Some rows are outside your scope; nothing was written.")
        # the body stays small (values are cut at 100 characters): the first 1,000, then "and N more"
        result = result.model_copy(update={"errors": errors.listed(lambda row, text: _error(row, None, None, text))})
        super().__init__(detail, result)
        self.status = status
        self.title = "Import rejected" if status == 422 else "Forbidden"
        # rows that break the import's rules: a domain rule no schema can state (contract v1.3)
        self.slug = "rule-violation" if status == 422 else "forbidden"
        self.result = result


@dataclass(frozen=True, slots=True)
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
    met_bits: int
    row: assessment_rules.Row


@dataclass(slots=True)
class _Plan:
    """A row to write: what it creates or changes (``before`` None: creates) and the marks it leaves.
    The criteria it leaves and what judged them are worked out when its chunk is written (and
    dropped after), as they were to plan it (``import_assessments``)."""

    row: rules.ParsedRow
    unit: _Unit
    before: _Existing | None
    met: frozenset[int]
    criteria: list[CriterionResult] | None = None
    judge: assessment_rules.Judge | None = None


def _error(row: int, column: str | None, value: str | None, message: str) -> ImportError_:
    return ImportError_(row=row, column=column, value=value, message=message)


async def read_file(data: sheets.Source, *, max_rows: int, max_unzipped_bytes: int, year: int, dry_run: bool,
                    kind: str = AssessmentKind.chuan) -> list[sheets.Sheet]:
    """Parse the upload (bytes, or the spooled upload file, read in place) off the event loop. A
    file that cannot be read is a 422 for the request's year, kind and dry run (no set judged it:
    ``criteria_set`` is empty)."""
    try:
        return await run_in_threadpool(sheets.read, data, max_rows=max_rows, max_unzipped_bytes=max_unzipped_bytes)
    except sheets.SheetError as exc:
        if exc.status == 415:
            raise UnsupportedFile(exc.message) from None
        if exc.status == 413:
            raise PayloadTooLarge(exc.message) from None
        raise ImportRejected(_empty_result(year, "", dry_run, [_error(1, None, None, exc.message)], kind=kind)
                             ) from None


def _empty_result(year: int, set_code: str, dry_run: bool, errors: list[ImportError_], *,
                  kind: str = AssessmentKind.chuan) -> ImportResult:
    return ImportResult(year=year, kind=AssessmentKind(kind), criteria_set=set_code, dry_run=dry_run, rows=0,
                        created=0, updated=0, unchanged=0, skipped=0, errors=errors)


async def _units(session: AsyncSession, codes: Sequence[str], day: dt.date) -> dict[str, _Unit]:
    """The communes of the file as valid on the day, by code: kept for the whole request, so their
    level, kind and parent code (the same few texts for thousands of communes) are one object each."""
    out: dict[str, _Unit] = {}
    texts: dict[str, str] = {}
    for start in range(0, len(codes), CHUNK):
        rows = await session.execute(
            select(U.c.id, U.c.code, U.c.name, U.c.level, U.c.kind, U.c.parent_code)
            .where(U.c.code.in_(codes[start:start + CHUNK]), valid_on(day))
        )
        for r in rows:
            parent = texts.setdefault(r.parent_code, r.parent_code) if r.parent_code is not None else None
            out[r.code] = _Unit(r.id, r.code, r.name, texts.setdefault(r.level, r.level),
                                texts.setdefault(r.kind, r.kind), parent)
    return out


async def _existing(session: AsyncSession, unit_ids: Sequence[int], year: int, *, kind: str, lock: bool
                    ) -> dict[int, _Existing]:
    out: dict[int, _Existing] = {}
    for start in range(0, len(unit_ids), CHUNK):
        stmt = select(A).where(A.c.year == year, A.c.kind == kind, A.c.unit_id.in_(unit_ids[start:start + CHUNK]))
        if lock:
            stmt = stmt.with_for_update()
        for r in await session.execute(stmt):
            out[r.unit_id] = _Existing(r.id, r.unit_id, r.met_bits, assessment_rules.Row(
                commune_code=r.commune_code, year=r.year, criteria_set=r.criteria_set,
                criteria_count=r.criteria_count, met_count=r.met_count, status=r.status, version=r.version,
                created_at=r.created_at, updated_at=r.updated_at, submitted_by=r.submitted_by,
                submitted_at=r.submitted_at, approved_by=r.approved_by, approved_at=r.approved_at, kind=r.kind,
            ))
    return out


@dataclass(frozen=True)
class Limits:
    """What an upload may hold (from the settings)."""

    max_rows: int
    max_unzipped_bytes: int


@dataclass(frozen=True)
class Imported:
    result: ImportResult
    replayed: bool = False  # answered from an earlier upload under the same Idempotency-Key


def _fingerprint(source: sheets.Source, year: int, dry_run: bool, kind: str = AssessmentKind.chuan) -> str:
    """What makes two uploads the same (for ``Idempotency-Key``): their bytes, year, kind and mode,
    hashed a megabyte at a time from a file read in place (the standard kind adds nothing: keys
    kept from before kinds still match)."""
    digest = hashlib.sha256()
    if isinstance(source, bytes | bytearray):
        digest.update(source)
    else:
        source.seek(0)
        for chunk in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(chunk)
        source.seek(0)
    digest.update(f"|{year}|{dry_run}".encode())
    if kind != AssessmentKind.chuan:
        digest.update(f"|{kind}".encode())
    return digest.hexdigest()


async def run_import(
    session: AsyncSession, principal: Principal, source: sheets.Source, *, year: int, dry_run: bool,
    idempotency_key: str | None, limits: Limits, kind: str = AssessmentKind.chuan,
) -> Imported:
    """The import use case: replay an earlier upload under the same ``Idempotency-Key`` (same
    actor; a different upload under it → 422), else read the file (bytes, or the spooled upload
    read in place), check every row and write all or nothing (``import_assessments``), and keep
    the result for the key."""
    fingerprint = await run_in_threadpool(_fingerprint, source, year, dry_run, kind)
    keyed = idempotency_key is not None and not dry_run
    if keyed:
        earlier = await session.get(ImportRequest, (principal.actor, idempotency_key))
        if earlier is not None:
            if earlier.fingerprint != fingerprint:
                raise InvalidInput.field("header", "Idempotency-Key",
                                         "This Idempotency-Key was used for a different upload; use a new key.")
            return Imported(ImportResult.model_validate(earlier.result), replayed=True)
    files = await read_file(source, max_rows=limits.max_rows, max_unzipped_bytes=limits.max_unzipped_bytes,
                            year=year, dry_run=dry_run, kind=kind)
    result = await import_assessments(session, principal=principal, files=files, year=year, dry_run=dry_run,
                                      kind=kind)
    if keyed and idempotency_key is not None:
        session.add(ImportRequest(actor=principal.actor, key=idempotency_key, fingerprint=fingerprint, status_code=200,
                                  result=result.model_dump(mode="json"), created_at=utcnow()))
        await session.flush()
    return Imported(result)


async def import_assessments(
    session: AsyncSession,
    *,
    principal: Principal,
    files: list[sheets.Sheet],
    year: int,
    dry_run: bool,
    kind: str = AssessmentKind.chuan,
) -> ImportResult:
    """Check every row, then write them all (unless ``dry_run``); raise ``ImportRejected`` on any error.

    Each row goes through the same pure checks as the API's use cases (``app.assessments.rules``:
    assessable, frozen; ``app.auth.rules.allowed`` over the commune's chain of unit ids in the
    year), set-wise; the audit records come from the same builder, in the same shape. The rows are
    assessments of ``kind``, judged by the set of that kind that applies to the file's communes.
    ``files`` are consumed: the table's cells are dropped once parsed."""
    table = rules.find_table(files)
    day = year_end(year)
    # the set is chosen by the rows that carry marks or values; a file with none (an untouched
    # template) by all its rows, and when those mix sets, the national one (every row is skipped)
    carrying = rules.commune_codes(table) if table is not None else []
    codes = carrying or (rules.commune_codes(table, carrying=False) if table is not None else [])
    units = await _units(session, codes, day)
    tree = await units_service.tree_above_communes(session, day)
    # chosen by the communes the caller may write (when any): rows outside the scope are refused
    # (403) below, never judged by a set, nor named in a 422 about another province's set
    writable = {code: u for code, u in units.items() if _may_write(principal, u, tree)}
    cset = await _file_set(session, year, kind, writable or units, tree, dry_run, mixed_ok=not carrying)
    if table is None:
        names = ", ".join(repr(s.name) for s in files)
        raise ImportRejected(_empty_result(year, cset.code, dry_run, kind=kind, errors=[_error(
            1, None, None, f"no sheet has a commune code column (`commune_code` or `Mã xã`) in row 1; "
                           f"sheets found: {names}")]))
    if not dry_run:
        await criteria_service.hold(session, cset)
    set_rules = await assessments_service.set_indicators(session, cset.code)
    # the cells are not read again: ``files`` are consumed, each row dropped once parsed (~15 MB for a
    # national file, which the parsed rows would otherwise come on top of)
    parsed = await run_in_threadpool(partial(rules.parse, consume=True), table, cset.criteria_count, set_rules)
    table.rows.clear()
    # every error counted, the first 1,000 (by row, then column) kept, in whatever order they are found
    errors: sheets.Errors[ImportError_] = sheets.Errors()
    errors.extend([_error(e.row, e.column, e.value, e.message) for e in parsed.errors])
    errors.tally(parsed.more)
    if any(e.row == 1 for e in parsed.errors):
        raise ImportRejected(_empty_result(year, cset.code, dry_run, [], kind=kind), errors=errors)

    code_col, name_col = parsed.code_column, parsed.name_column
    out_of_scope: sheets.Errors[ImportError_] = sheets.Errors()
    good: list[rules.ParsedRow] = []  # their units by code; chains are worked out when audited
    for row in parsed.rows:
        unit = units.get(row.code)
        if unit is None:
            errors.add(_error(row.row, code_col, row.code, f"no unit has the code {row.code} in {year}"))
            continue
        reason = assessment_rules.not_assessable(name=unit.name, code=unit.code, level=unit.level, kind=unit.kind,
                                                 year=year)
        if reason is not None:
            errors.add(_error(row.row, code_col, row.code, reason))
            continue
        if row.name is not None and not rules.same_name(row.name, unit.name):
            errors.add(_error(row.row, name_col, row.name,
                                 f"the name does not match commune {unit.code}, which is {unit.name} in {year}"))
            continue
        if row.code not in writable:
            out_of_scope.add(_error(row.row, code_col, row.code,
                                       f"{principal.actor} may not write assessments of {unit.name} ({unit.code})"))
            continue
        good.append(row)

    lock = not dry_run and not errors
    if lock:  # one bulk writer of the year's assessments of this kind at a time (see bulk_lock_name)
        await locks.hold(session, [assessments_service.bulk_lock_name(year, kind)])
    judges = _Judges(session, year, set_rules)
    new_rows: list[_Plan] = []
    changed: list[_Plan] = []
    unchanged = 0
    shared: dict[frozenset[int], frozenset[int]] = {}  # the rows' sets of marks, one object each
    for start in range(0, len(good), WRITE_CHUNK):  # a chunk of rows at a time: what they leave is dropped
        part = [(row, units[row.code]) for row in good[start:start + WRITE_CHUNK]]
        existing = await _existing(session, [u.id for _, u in part], year, kind=kind, lock=lock)
        # with indicator columns, what a row leaves depends on the values recorded (kept under the file's)
        # and on the commune's thresholds: worked out here, so that an unchanged row is told apart (and
        # again when written: a plan keeps only its marks)
        kept: dict[int, list[CriterionResult]] = {}
        if parsed.indicator_columns:
            kept = await _criteria_of(session, [b.id for b in existing.values() if b.row.criteria_set == cset.code])
            await judges.prefetch([u.id for _, u in part])
        for row, unit in part:
            before = existing.get(unit.id)
            same = before is not None and before.row.criteria_set == cset.code
            plan = _Plan(row, unit, before, row.met)
            criteria: list[CriterionResult] | None = None
            if parsed.indicator_columns:
                old = kept.get(before.id, []) if before is not None and same else []
                criteria = rules.row_criteria(row, cset.criteria_count, old, await judges(unit, old, row))
                met = frozenset(c.number for c in criteria if c.met)
                plan.met = shared.setdefault(met, met)
            if before is None:
                new_rows.append(plan)
            elif same and before.met_bits == assessment_rules.met_bits(sorted(plan.met)) and (
                    criteria is None
                    or [c.indicators for c in criteria] == [c.indicators for c in kept.get(before.id, [])]):
                unchanged += 1
            elif (reason := assessment_rules.frozen(before.row.status, code=unit.code, year=year, kind=kind)
                  ) is not None:
                errors.add(_error(row.row, code_col, row.code, reason))
            else:
                changed.append(plan)

    result = ImportResult(
        year=year, kind=AssessmentKind(kind), criteria_set=cset.code, dry_run=dry_run, rows=len(parsed.rows), created=len(new_rows),
        updated=len(changed), unchanged=unchanged, skipped=parsed.skipped, errors=[],
    )
    if out_of_scope and not errors:
        raise ImportRejected(result, status=403, errors=out_of_scope)
    if errors or out_of_scope:
        errors.extend(out_of_scope)
        raise ImportRejected(result, errors=errors)
    if not dry_run and (new_rows or changed):
        await _write(session, cset, year, kind, new_rows, changed, principal, judges, tree)
        # then the report epochs of every district written, in code order (the lock order: ``hold``)
        await aggregate_epochs.hold(session, [p.unit.parent_code for p in (*new_rows, *changed)])
    return result


def _chain(unit: _Unit, tree: units_rules.Tree) -> UnitChain:
    """The commune's chain in the year (worked out when needed, never kept for every row of a file)."""
    return units_rules.chain_in(unit.id, unit.code, unit.parent_code, tree)


def _may_write(principal: Principal, unit: _Unit, tree: units_rules.Tree) -> bool:
    """``auth.rules.allowed`` for an assessment write on the commune, over its chain of unit ids in the year."""
    chain = _chain(unit, tree)
    return allowed(principal.role, principal.unit_id, Action.assessment_write, chain.ids, is_person=principal.is_person)


async def _file_set(session: AsyncSession, year: int, kind: str, units: dict[str, _Unit], tree: units_rules.Tree,
                    dry_run: bool, *, mixed_ok: bool = False) -> CriteriaSet:
    """The one set of ``kind`` that judges the file's communes in ``year``: the set that applies to
    each (its province's adaptation in force, else the national set) — 422 when none applies, and
    a header error when the communes' provinces are judged by different sets (one file, one set:
    its columns are that set's criteria and indicators)."""
    provinces = {criteria_service.province_in_chain(units_rules.chain_in(u.id, u.code, u.parent_code, tree).codes)
                 for u in units.values()} or {None}
    found = await criteria_service.sets_for_provinces(session, year, provinces, kind=kind)
    distinct = {s.code: s for s in found.values() if s is not None}
    if not distinct:
        return await criteria_service.set_that_applies(session, year, kind=kind, location="query")  # 422
    if len(distinct) == 1 and None not in found.values():
        return next(iter(distinct.values()))
    if mixed_ok:  # nothing will be written: read the header by the national set
        return await criteria_service.set_that_applies(session, year, kind=kind, location="query")
    which = "; ".join(f"province {p}: {s.code if s is not None else 'none'}"
                      for p, s in sorted(found.items(), key=lambda item: item[0] or ""))
    raise ImportRejected(_empty_result(year, min(distinct), dry_run, [_error(
        1, None, None, f"the file's communes are judged by different criteria sets in {year} ({which}): import "
                       "the communes of each set in a file of their own")], kind=kind))


async def _criteria_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[CriterionResult]]:
    out: dict[int, list[CriterionResult]] = {}
    for start in range(0, len(ids), CHUNK):
        out.update(await assessments_service.criteria_rows(session, ids[start:start + CHUNK]))
    return out


class _Judges:
    """What a commune's indicator values are judged with (the set's indicators, the commune's region
    and group in the year, as PUT reads them); needed only for rows that have values. ``prefetch``
    reads the communes' attributes in bulk (a national file would otherwise cost queries per row)."""

    def __init__(self, session: AsyncSession, year: int, indicators: rules.IndicatorRules) -> None:
        self.session, self.year, self.indicators = session, year, indicators
        # read once per commune for the whole request (planned and written by the same attributes),
        # equal ones one object: a few distinct (group, region) pairs among thousands of communes
        self._attributes: dict[int, units_rules.YearAttributes] = {}
        self._shared: dict[units_rules.YearAttributes, units_rules.YearAttributes] = {}

    async def prefetch(self, unit_ids: Sequence[int]) -> None:
        wanted = [i for i in unit_ids if i not in self._attributes]
        if self.indicators and wanted:
            for unit_id, attrs in (await units_service.attributes_in_year_of(self.session, wanted, self.year)).items():
                self._attributes[unit_id] = self._shared.setdefault(attrs, attrs)

    async def __call__(self, unit: _Unit, kept: Sequence[CriterionResult], row: rules.ParsedRow
                       ) -> assessment_rules.Judge:
        if not self.indicators or not (any(c.indicators for c in kept) or rules.has_values(row)):
            return assessment_rules.NO_JUDGE
        if unit.id not in self._attributes:
            attrs = await units_service.attributes_in_year(self.session, unit.id, self.year)
            self._attributes[unit.id] = self._shared.setdefault(attrs, attrs)
        attrs = self._attributes[unit.id]
        return assessment_rules.Judge(year=self.year, region=attrs.region, commune_group=attrs.commune_group,
                                      indicators=self.indicators)


async def _write(
    session: AsyncSession,
    cset: CriteriaSet,
    year: int,
    kind: str,
    new_rows: list[_Plan],
    changed: list[_Plan],
    principal: Principal,
    judges: _Judges,
    tree: units_rules.Tree,
) -> None:
    """Write the rows, ``WRITE_CHUNK`` at a time (their criteria, audit views and records and the
    statements' parameters are built for a chunk and dropped), in the request's one transaction:
    the creations, then the changes, each with its audit records, in the rows' order."""
    now = utcnow()
    for start in range(0, len(new_rows), WRITE_CHUNK):
        await _create(session, cset, year, kind, new_rows[start:start + WRITE_CHUNK], principal, judges, tree, now)
    for start in range(0, len(changed), WRITE_CHUNK):
        await _update(session, cset, year, kind, changed[start:start + WRITE_CHUNK], principal, judges, tree, now)


def _recorder(records: list[dict[str, Any]], principal: Principal, year: int, kind: str, tree: units_rules.Tree,
              now: dt.datetime) -> Callable[[_Plan, str, AssessmentPublic | None, AssessmentPublic], None]:
    def record(plan: _Plan, action: str, before: AssessmentPublic | None, after: AssessmentPublic) -> None:
        records.append(audit.entry(actor=principal.actor, action=action, entity=assessments_service.ENTITY,
                                   key=assessments_service.audit_key(plan.unit.code, year, kind), before=before,
                                   after=after,
                                   unit_chain=_chain(plan.unit, tree).codes, at=now))

    return record


async def _create(session: AsyncSession, cset: CriteriaSet, year: int, kind: str, plans: list[_Plan],
                  principal: Principal, judges: _Judges, tree: units_rules.Tree, now: dt.datetime) -> None:
    """Create a chunk of assessments: their rows, criteria rows and audit records."""
    count = cset.criteria_count
    records: list[dict[str, Any]] = []
    record = _recorder(records, principal, year, kind, tree, now)
    views: list[tuple[_Plan, list[CriterionResult], AssessmentPublic]] = []
    for plan in plans:
        judge = await judges(plan.unit, (), plan.row)  # NO_JUDGE for a row without indicator values
        criteria = rules.row_criteria(plan.row, count, (), judge)
        after = assessment_rules.Row(commune_code=plan.unit.code, year=year, criteria_set=cset.code,
                                     criteria_count=count, met_count=len(plan.met), status=AssessmentStatus.draft,
                                     version=1, created_at=now, updated_at=now, kind=kind)
        views.append((plan, criteria, assessment_rules.view(after, plan.unit.name, criteria, judge)))
    inserted = await session.execute(
        insert(A).returning(A.c.id, sort_by_parameter_order=True),
        [
            {"unit_id": plan.unit.id, "commune_code": plan.unit.code, "year": year, "kind": kind,
             "criteria_set": cset.code,
             "criteria_count": count, "met_count": len(plan.met), "met_bits": assessment_rules.met_bits(plan.met),
             "indicator_conflicts": assessment_rules.met_bits(view.indicator_conflicts),
             "status": AssessmentStatus.draft.value, "version": 1, "created_at": now, "updated_at": now}
            for plan, _, view in views
        ],
    )
    ids = list(inserted.scalars())
    await _insert_criteria(session, zip(ids, (criteria for _, criteria, _ in views), strict=True))
    for plan, _, view in views:
        record(plan, "import_create", None, view)
    await bulk_insert(session, AUDIT, records)


async def _update(session: AsyncSession, cset: CriteriaSet, year: int, kind: str, plans: list[_Plan],
                  principal: Principal, judges: _Judges, tree: units_rules.Tree, now: dt.datetime) -> None:
    """Change a chunk of assessments: their rows, the criteria rows that change, audit records."""
    records: list[dict[str, Any]] = []
    record = _recorder(records, principal, year, kind, tree, now)
    kept = await _criteria_of(session, [plan.before.id for plan in plans if plan.before is not None])
    await judges.prefetch([plan.unit.id for plan in plans if plan.criteria is None
                           and any(c.indicators for c in kept.get(plan.before.id if plan.before else -1, []))])
    fields = [await _changed(plan, kept.get(plan.before.id, []) if plan.before is not None else [], cset, year, now,
                             judges, record) for plan in plans]
    await session.execute(
        update(A).where(A.c.id == bindparam("b_id")).values(
            criteria_set=bindparam("b_set"), criteria_count=bindparam("b_count"),
            met_count=bindparam("b_met_count"), met_bits=bindparam("b_bits"),
            indicator_conflicts=bindparam("b_conflicts"), version=A.c.version + 1, updated_at=bindparam("b_now"),
        ),
        fields,
    )
    # against the same set: the criteria rows whose mark or values changed; against another: new rows
    same_set = [plan for plan in plans if plan.before is not None and plan.before.row.criteria_set == cset.code]
    other_set = [plan for plan in plans if plan.before is not None and plan.before.row.criteria_set != cset.code]
    edits = [
        {"b_aid": plan.before.id, "b_num": c.number, "b_met": c.met, "b_indicators": c.indicators}
        for plan in same_set if plan.before is not None and plan.criteria is not None
        for c, o in zip(plan.criteria, kept.get(plan.before.id, []), strict=True)
        if (c.met, c.indicators) != (o.met, o.indicators)
    ]
    if edits:
        await session.execute(
            update(C).where(and_(C.c.assessment_id == bindparam("b_aid"), C.c.number == bindparam("b_num")))
            .values(met=bindparam("b_met"), indicators=bindparam("b_indicators", type_=C.c.indicators.type)),
            edits,
        )
    if other_set:
        other_ids = [plan.before.id for plan in other_set if plan.before is not None]
        await session.execute(delete(C).where(C.c.assessment_id.in_(other_ids)))
        await _insert_criteria(session, ((plan.before.id, plan.criteria or []) for plan in other_set
                                         if plan.before is not None))
    await bulk_insert(session, AUDIT, records)
    for plan in plans:  # worked out for this chunk's writes only
        plan.criteria = plan.judge = None


async def _changed(
    plan: _Plan, old: list[CriterionResult], cset: CriteriaSet, year: int, now: dt.datetime, judges: _Judges,
    record: Callable[[_Plan, str, AssessmentPublic | None, AssessmentPublic], None],
) -> dict[str, Any]:
    """Work out what a changed row leaves (when the file had no indicator columns, from the notes and
    values recorded against the same set), audit it, and answer the assessment's new fields. Fills
    ``plan.criteria`` for the criteria rows' writes."""
    before = plan.before
    assert before is not None
    same = before.row.criteria_set == cset.code
    count = cset.criteria_count
    judge = plan.judge
    if plan.criteria is None:
        kept_same = old if same else []
        judge = plan.judge = await judges(plan.unit, kept_same, plan.row)
        plan.criteria = rules.row_criteria(plan.row, count, kept_same, judge)
    judge = judge or assessment_rules.NO_JUDGE
    before_judge = judge if same else assessment_rules.NO_JUDGE
    if not same and old and any(c.indicators for c in old):  # shown against its own set's thresholds
        before_judge = await _Judges(judges.session, year, await assessments_service.set_indicators(
            judges.session, before.row.criteria_set))(plan.unit, old, plan.row)
    after_row = replace(before.row, criteria_set=cset.code, criteria_count=count, met_count=len(plan.met),
                        version=before.row.version + 1, updated_at=now)
    after = assessment_rules.view(after_row, plan.unit.name, plan.criteria, judge)
    record(plan, "import_update", assessment_rules.view(before.row, plan.unit.name, old, before_judge), after)
    return {"b_id": before.id, "b_set": cset.code, "b_count": count, "b_met_count": len(plan.met),
            "b_bits": assessment_rules.met_bits(plan.met), "b_conflicts": assessment_rules.met_bits(after.indicator_conflicts),
            "b_now": now}


async def _insert_criteria(session: AsyncSession, rows: Iterable[tuple[int, Sequence[CriterionResult]]]) -> None:
    await bulk_insert(
        session, C,
        [{"assessment_id": aid, "number": c.number, "met": c.met, "note": c.note, "indicators": c.indicators}
         for aid, criteria in rows for c in criteria],
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
    assert driver is not None  # an open asyncpg connection
    await driver.copy_records_to_table(table.name, records=records, columns=columns)


__all__ = ["ImportRejected", "UnsupportedFile", "import_assessments", "read_file"]


# ---- reading for the template, the report and the charts ----------------------------------------


async def _own_assessments(session: AsyncSession, codes: Sequence[str], year: int, kind: str
                           ) -> dict[str, tuple[str, int, int]]:
    """commune code → (criteria set, met bits, id) of the communes' own assessments in the year."""
    out: dict[str, tuple[str, int, int]] = {}
    for start in range(0, len(codes), CHUNK):
        rows = await session.execute(
            select(A.c.commune_code, A.c.criteria_set, A.c.met_bits, A.c.id)
            .where(A.c.year == year, A.c.kind == kind, A.c.commune_code.in_(codes[start:start + CHUNK]))
        )
        out.update((r.commune_code, (r.criteria_set, r.met_bits, r.id)) for r in rows)
    return out


async def indicator_columns(session: AsyncSession, set_code: str) -> list[workbooks.IndicatorColumn]:
    """The set's indicators as columns, in the set's order (a code repeated for another region is one; a
    code two criteria share, or one that reads as another header (``TC05``), has no column, as the
    import could not read it)."""
    rows = await session.execute(
        select(col(Criterion.number), col(Indicator.code), col(Indicator.name), col(Indicator.unit),
               col(Indicator.op))
        .join(Criterion, col(Criterion.id) == col(Indicator.criterion_id))
        .where(col(Criterion.set_code) == set_code).order_by(col(Criterion.number), col(Indicator.id))
    )
    out: dict[tuple[int, str], workbooks.IndicatorColumn] = {}
    for number, code, name, unit, op in rows:
        out.setdefault((number, code), workbooks.IndicatorColumn(number=number, code=code, name=name, unit=unit,
                                                                 yes_no=op == Op.boolean))
    owners = Counter(rules.header_key(code) for _, code in out)
    return [column for column in out.values() if owners[rules.header_key(column.code)] == 1
            and rules.column_code(column.code)]


async def _own_indicator_values(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """assessment id → its recorded indicator values by code (every criterion's together)."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        rows = await session.execute(
            select(C.c.assessment_id, C.c.indicators).where(C.c.assessment_id.in_(ids[start:start + CHUNK]))
            .order_by(C.c.assessment_id, C.c.number)
        )
        for aid, values in rows:
            if values:
                out.setdefault(aid, {}).update({k: v for k, v in values.items() if v is not None})
    return out


async def report_data(
    session: AsyncSession, unit: AdminUnit, year: int, *, with_figures: bool, approved_only: bool = False,
    kind: str = AssessmentKind.chuan,
) -> ReportData:
    """The unit's communes in the year with their own marks (assessments of ``kind``), flags and bands;
    with the summary and trend when ``with_figures`` (the report), without them (the template)."""
    cset = await criteria_service.set_that_applies(session, year, unit=unit, kind=kind, location="query")
    criteria = [(r.number, r.name) for r in await session.execute(
        select(col(Criterion.number), col(Criterion.name)).where(col(Criterion.set_code) == cset.code).order_by(col(Criterion.number)))]
    columns = await indicator_columns(session, cset.code)
    flag_rows = await reports_service.flags(session, unit, year, approved_only=approved_only, kind=kind)
    own = await _own_assessments(session, [f.commune_code for f in flag_rows], year, kind)
    values = (await _own_indicator_values(session, [aid for set_code, _, aid in own.values() if set_code == cset.code])
              if columns else {})
    lines = []
    for f in flag_rows:
        mine = own.get(f.commune_code)
        same = mine is not None and mine[0] == cset.code
        met = frozenset(assessment_rules.met_numbers(mine[1], cset.criteria_count)) if mine is not None and same else None
        lines.append(CommuneLine(code=f.commune_code, name=f.name, met=met, met_count=f.met_count, band=f.band,
                                 flags=[x.value for x in f.flags],
                                 indicators=values.get(mine[2], {}) if mine is not None and same else {}))
    data = ReportData(unit_code=unit.code, unit_name=unit.name, year=year, criteria_set=cset.code,
                      criteria=criteria, communes=lines, indicators=columns, kind=kind)
    if with_figures:
        data.summary = await reports_service.summary(session, unit, year, approved_only=approved_only, kind=kind)
        span = await queries.data_years(session, unit, kind=kind)
        first = min(span[0], year) if span else year
        data.trend = await reports_service.trend(session, unit, first=first, last=year, approved_only=approved_only,
                                                 kind=kind)
        data.plan_indicators = await plan_indicators.lines_for_report(session, unit, year)
    return data

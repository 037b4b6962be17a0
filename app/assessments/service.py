"""Assessments: one function per use case (put, patch a criterion, submit, approve, reopen),
each owning its whole sequence — resolve the commune valid in the year, authorize, declare the
reports it stales, lock, read "before", change, bump the version, append the audit record — and
the reads.

The rules themselves (what is assessable, what is frozen, the workflow, the public shape) are
pure functions in ``rules``, shared with the spreadsheet import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments import rules
from app.assessments.models import Assessment, AssessmentCriterion
from app.assessments.rules import Step
from app.assessments.schemas import AssessmentPublic, AssessmentPut, CriterionPatch, CriterionResult
from app.audit import service as audit
from app.auth.access import authorize
from app.auth.models import Principal
from app.auth.rules import Action
from app.core import aggregate_epochs, locks
from app.core.errors import FieldError, InvalidInput, NotFound
from app.core.preconditions import IfMatch
from app.core.types import utcnow
from app.criteria import service as criteria_service
from app.criteria import thresholds
from app.criteria.models import AssessmentKind, CriteriaSet, Criterion, Indicator
from app.units import service as units_service
from app.units.models import AdminUnit
from app.units.service import year_end

ENTITY = "assessment"


# ---- resolving and reading ---------------------------------------------------------------------


async def resolve_commune(session: AsyncSession, code: str, year: int) -> AdminUnit:
    """The commune with this code in ``year`` (404 when none), refusing anything that is not an
    assessable commune (422)."""
    unit = await units_service.resolve_in_year(session, code, year=year)
    reason = rules.not_assessable(name=unit.name, code=code, level=unit.level, kind=unit.kind, year=year)
    if reason is not None:
        raise InvalidInput.field("path", "code", reason)
    return unit


async def _criteria_set_for(session: AsyncSession, year: int, code: str | None, unit: AdminUnit,
                            kind: str) -> CriteriaSet:
    """The set a write judges by — the one that applies, or the one named — held until the commit
    (that set alone: other sets' changes never wait for this write)."""
    if code is None:
        applies = await criteria_service.set_that_applies(session, year, unit=unit, kind=kind)
        await criteria_service.hold(session, applies)
        return applies
    cset = await session.get(CriteriaSet, code)
    if cset is None:
        raise InvalidInput.field("body", "criteria_set", f"No criteria set has the code {code!r}.")
    if cset.kind != kind:
        raise InvalidInput.field(
            "body", "criteria_set",
            f"Criteria set {code} is of kind '{cset.kind}'; this assessment is of kind '{kind}' (`?kind=`).",
        )
    if not cset.first_year <= year <= cset.last_year:
        raise InvalidInput.field(
            "body",
            "criteria_set",
            f"Criteria set {code} ({cset.decision}) is in force {cset.first_year}–{cset.last_year}, not in {year}.",
        )
    await criteria_service.check_issuer(session, cset, unit, year, location="body", field="criteria_set")
    await criteria_service.hold(session, cset)
    return cset


# The statements of every write, built once (constructing one costs more than a short query runs).
_SET_INDICATORS = (
    select(col(Criterion.number), col(Indicator.code), col(Indicator.op), col(Indicator.thresholds))
    .join(Criterion, col(Criterion.id) == col(Indicator.criterion_id))
    .where(col(Criterion.set_code) == bindparam("set_code")).order_by(col(Criterion.number), col(Indicator.id))
)
_ASSESSMENT = select(Assessment).where(col(Assessment.unit_id) == bindparam("unit_id"),
                                       col(Assessment.kind) == bindparam("kind"), col(Assessment.year) == bindparam("year"))
_CRITERIA = (select(AssessmentCriterion)
             .where(col(AssessmentCriterion.assessment_id).in_(bindparam("ids", expanding=True)))
             .order_by(col(AssessmentCriterion.assessment_id), col(AssessmentCriterion.number)))
# a write's "before": the assessment under its row lock. Its criteria are read by a statement of
# their own, after the lock is granted: one statement joining them would, when it waited for another
# writer, return that writer's assessment row with the criteria as they were before it (READ
# COMMITTED re-checks only the locked row), and a replace could be taken for "unchanged" and lost.
_ASSESSMENT_FOR_UPDATE = _ASSESSMENT.with_for_update()
_DELETE_CRITERIA = delete(AssessmentCriterion).where(col(AssessmentCriterion.assessment_id) == bindparam("assessment_id"))


async def set_indicators(session: AsyncSession, set_code: str) -> dict[int, list[rules.IndicatorRule]]:
    """The set's indicators by criterion number, in the set's order (rows repeating a code for
    another region are one indicator: the first op, every threshold)."""
    rows = await session.execute(_SET_INDICATORS, {"set_code": set_code})
    found: dict[int, dict[str, tuple[thresholds.Op | None, list[thresholds.Threshold]]]] = {}
    for number, code, op, limits in rows:
        by_code = found.setdefault(number, {})
        prior_op, prior = by_code.get(code, (None, []))
        by_code[code] = (prior_op or (thresholds.Op(op) if op else None),
                         prior + [thresholds.Threshold.from_data(t) for t in limits or []])
    return {n: [rules.IndicatorRule(code, op, tuple(limits)) for code, (op, limits) in by_code.items()]
            for n, by_code in found.items()}


class Judges:
    """What the indicators of a commune's assessments are judged with, read once per request:
    the commune's attributes per year, the indicators per set."""

    def __init__(self, session: AsyncSession, commune: AdminUnit) -> None:
        self.session, self.commune = session, commune
        self._sets: dict[str, dict[int, list[rules.IndicatorRule]]] = {}
        self._years: dict[int, tuple[str | None, int | None]] = {}

    async def __call__(self, set_code: str, year: int) -> rules.Judge:
        if set_code not in self._sets:
            self._sets[set_code] = await set_indicators(self.session, set_code)
        if year not in self._years:
            found = await units_service.attributes_in_year(self.session, self.commune, year)
            self._years[year] = (found.region, found.commune_group)
        region, group = self._years[year]
        return rules.Judge(year=year, region=region, commune_group=group, indicators=self._sets[set_code])


def resolve_met(criteria: Sequence[CriterionResult], judge: rules.Judge, *, prefix: str = "criteria",
                single: bool = False) -> list[CriterionResult]:
    """Check the criteria's indicator values against the set (422 naming the key), and fill an
    omitted ``met`` with ``met_by_indicators`` (422 naming the criterion when that is null)."""
    errors: list[FieldError] = []
    out: list[CriterionResult] = []
    for i, item in enumerate(criteria):
        where = prefix if single else f"{prefix}[{i}]"
        here = rules.indicator_errors(item.number, item.indicators, judge,
                                      prefix=f"{where}.indicators" if where else "indicators")
        errors += here
        if item.met is None and not here:
            _, by_indicators = rules.evaluate(item.number, item.indicators, judge)
            if by_indicators is None:
                errors.append(FieldError(
                    location="body", field=f"{where}.met" if where else "met", type="met_undetermined",
                    message=f"criterion {item.number}: `met` is omitted and its indicators do not decide it "
                            "(not every indicator has a value and a threshold that applies); give `met`",
                ))
                continue
            item = item.model_copy(update={"met": by_indicators})
        out.append(item)
    if errors:
        raise InvalidInput("; ".join(e.message for e in errors), errors=errors)
    return out


def check_criteria(criteria: Sequence[CriterionResult], count: int, set_code: str) -> None:
    """Every criterion 1..count exactly once; all problems reported together."""
    errors: list[FieldError] = []
    seen: dict[int, int] = {}
    for i, item in enumerate(criteria):
        if not 1 <= item.number <= count:
            errors.append(
                FieldError(
                    location="body",
                    field=f"criteria[{i}].number",
                    message=f"criterion {item.number} is not in set {set_code}, which has criteria 1–{count}",
                    type="criterion_out_of_set",
                )
            )
        elif item.number in seen:
            errors.append(
                FieldError(
                    location="body",
                    field=f"criteria[{i}].number",
                    message=f"criterion {item.number} appears twice (also at criteria[{seen[item.number]}])",
                    type="criterion_duplicate",
                )
            )
        else:
            seen[item.number] = i
    missing = [n for n in range(1, count + 1) if n not in seen]
    if missing:
        errors.append(
            FieldError(
                location="body",
                field="criteria",
                message=f"criteria {', '.join(map(str, missing))} of set {set_code} are missing; "
                "every criterion must appear exactly once",
                type="criterion_missing",
            )
        )
    if errors:
        raise InvalidInput("; ".join(e.message for e in errors), errors=errors)


def audit_key(code: str, year: int, kind: str) -> str:
    """The audit key of an assessment: ``02812/2021``, with the kind after a slash when it is not
    the commune standard (``02812/2021/nang_cao``)."""
    return f"{code}/{year}" if kind == AssessmentKind.chuan else f"{code}/{year}/{kind}"


def _what(commune: AdminUnit, year: int, kind: str) -> str:
    what = f"{commune.name} ({commune.code}) has no assessment for {year}"
    return what + ("." if kind == AssessmentKind.chuan else f" of kind '{kind}'.")


async def get(session: AsyncSession, commune: AdminUnit, year: int, *, kind: str = AssessmentKind.chuan) -> Assessment | None:
    return (await session.execute(_ASSESSMENT, {"unit_id": commune.id, "kind": str(kind), "year": year})).scalars().first()


async def get_or_404(session: AsyncSession, commune: AdminUnit, year: int, *, kind: str = AssessmentKind.chuan) -> Assessment:
    found = await get(session, commune, year, kind=kind)
    if found is None:
        raise NotFound(_what(commune, year, kind))
    return found


async def criteria_rows(session: AsyncSession, assessment_ids: Sequence[int]) -> dict[int, list[CriterionResult]]:
    """The stored criteria of these assessments, by assessment id, in number order."""
    out: dict[int, list[CriterionResult]] = {i: [] for i in assessment_ids}
    if not assessment_ids:
        return out
    rows = await session.execute(_CRITERIA, {"ids": list(assessment_ids)})
    for row in rows.scalars():
        out[row.assessment_id].append(_criterion(row))
    return out


def _criterion(row: AssessmentCriterion) -> CriterionResult:
    return CriterionResult(number=row.number, met=row.met, note=row.note, indicators=row.indicators)


async def _lock(session: AsyncSession, commune: AdminUnit, year: int, kind: str) -> tuple[Assessment | None, list[CriterionResult]]:
    """The assessment of ``kind`` under a row lock (writers of one assessment queue up instead of
    overwriting each other), then its criteria in number order, as the lock's holder left them;
    (None, []) when there is none."""
    found = (await session.execute(_ASSESSMENT_FOR_UPDATE, {"unit_id": commune.id, "kind": str(kind), "year": year})
             ).scalars().first()
    if found is None:
        return None, []
    return found, (await criteria_rows(session, [found.id]))[found.id]  # type: ignore[list-item,index]


def _row(assessment: Assessment) -> rules.Row:
    return rules.Row(
        commune_code=assessment.commune_code, year=assessment.year, criteria_set=assessment.criteria_set,
        criteria_count=assessment.criteria_count, met_count=assessment.met_count, status=assessment.status,
        version=assessment.version, created_at=assessment.created_at, updated_at=assessment.updated_at,
        submitted_by=assessment.submitted_by, submitted_at=assessment.submitted_at,
        approved_by=assessment.approved_by, approved_at=assessment.approved_at, kind=assessment.kind,
    )


async def publish(session: AsyncSession, assessment: Assessment, commune: AdminUnit) -> AssessmentPublic:
    rows = await criteria_rows(session, [assessment.id])  # type: ignore[list-item]
    judge = await Judges(session, commune)(assessment.criteria_set, assessment.year)
    return rules.view(_row(assessment), commune.name, rows[assessment.id], judge)  # type: ignore[index]


async def read(session: AsyncSession, *, code: str, year: int, kind: str = AssessmentKind.chuan) -> AssessmentPublic:
    """The assessment of ``kind`` of the commune that had this code in ``year``; 404 when it has none."""
    commune = await resolve_commune(session, code, year)
    return await publish(session, await get_or_404(session, commune, year, kind=kind), commune)


async def history(
    session: AsyncSession, *, code: str, kind: str = AssessmentKind.chuan, limit: int, offset: int
) -> tuple[list[AssessmentPublic], int]:
    """The assessments of ``kind`` recorded under a commune code, newest first (404 for an unknown code)."""
    await units_service.resolve(session, code)
    where = (col(Assessment.commune_code) == code, col(Assessment.kind) == kind)
    total = (await session.execute(select(func.count()).select_from(Assessment).where(*where))).scalar_one()
    rows = await session.execute(
        select(Assessment, AdminUnit)
        .join(AdminUnit, col(AdminUnit.id) == col(Assessment.unit_id))
        .where(*where)
        .order_by(col(Assessment.year).desc())
        .limit(limit)
        .offset(offset)
    )
    pairs = list(rows.all())
    criteria = await criteria_rows(session, [a.id for a, _ in pairs])  # type: ignore[misc]
    judges: dict[int, Judges] = {}
    out: list[AssessmentPublic] = []
    for a, unit in pairs:
        judge = judges.setdefault(a.unit_id, Judges(session, unit))
        out.append(rules.view(_row(a), unit.name, criteria[a.id], await judge(a.criteria_set, a.year)))  # type: ignore[index]
    return out, total


# ---- writing: one function per use case ---------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """What a write answers: the assessment as it now stands, and whether it was created."""

    assessment: AssessmentPublic
    created: bool = False


@dataclass(frozen=True)
class _Locked:
    """The steps every write shares, done: who acts, the commune's chain (for the audit record),
    and the assessment as it stands under the row lock (None: none yet) with its public form."""

    principal: Principal
    chain: list[str]
    kind: str
    assessment: Assessment | None
    before: AssessmentPublic | None
    criteria: list[CriterionResult]
    judges: Judges


async def _begin(
    session: AsyncSession, principal: Principal | None, commune: AdminUnit, year: int, kind: str, action: Action,
    if_match: IfMatch,
) -> _Locked:
    """Authorize the action on the commune as it was in ``year``, declare the reports the write
    stales, lock the current assessment and read it (what the audit record shows as before), and
    check the precondition — under the lock, so no concurrent writer slips between."""
    actor, chain = await authorize(session, principal, action, commune, on=year_end(year))
    await units_service.writes_under(session, commune.code, year)
    found, criteria = await _lock(session, commune, year, kind)
    if_match.check(found.version if found is not None else None)
    judges = Judges(session, commune)
    before = (rules.view(_row(found), commune.name, criteria, await judges(found.criteria_set, year))
              if found is not None else None)
    return _Locked(actor, chain, kind, found, before, criteria, judges)


async def _audit(
    session: AsyncSession, locked: _Locked, action: str, commune: AdminUnit, year: int, after: AssessmentPublic,
    suffix: str = "",
) -> None:
    await audit.append(session, audit.entry(
        actor=locked.principal.actor, action=action, entity=ENTITY, key=audit_key(commune.code, year, locked.kind) + suffix,
        before=locked.before, after=after, unit_chain=locked.chain,
    ))


async def put(
    session: AsyncSession, principal: Principal | None, commune: AdminUnit, year: int, data: AssessmentPut, *,
    kind: str = AssessmentKind.chuan, if_match: IfMatch = IfMatch(None),
) -> Written:
    """Create or replace the whole assessment: every criterion of the set in force (or the named
    set) exactly once. A submitted or approved assessment is frozen (409) until reopened; an
    unchanged replace keeps its version and writes no audit record."""
    locked = await _begin(session, principal, commune, year, kind, Action.assessment_write, if_match)
    cset = await _criteria_set_for(session, year, data.criteria_set, commune, kind)
    check_criteria(data.criteria, cset.criteria_count, cset.code)
    judge = await locked.judges(cset.code, year)
    criteria = sorted(resolve_met(data.criteria, judge), key=lambda c: c.number)
    met = [c.number for c in criteria if c.met]
    conflict_bits = rules.met_bits(rules.conflicts([rules.judged(c, judge) for c in criteria]))
    now = utcnow()
    assessment = locked.assessment
    if assessment is None:
        assessment = Assessment(
            unit_id=commune.id,  # type: ignore[arg-type]
            commune_code=commune.code, year=year, kind=AssessmentKind(kind), criteria_set=cset.code, criteria_count=cset.criteria_count,
            met_count=len(met), met_bits=rules.met_bits(met), indicator_conflicts=conflict_bits, version=1,
            created_at=now, updated_at=now,
        )
        session.add(assessment)
    else:
        if assessment.criteria_set == cset.code and locked.criteria == criteria:
            return Written(locked.before)  # type: ignore[arg-type]  # nothing changed: same version
        rules.ensure_editable(assessment.status, code=commune.code, year=year, kind=kind)
        await session.execute(_DELETE_CRITERIA, {"assessment_id": assessment.id})
        assessment.criteria_set, assessment.criteria_count = cset.code, cset.criteria_count
        assessment.met_count, assessment.met_bits = len(met), rules.met_bits(met)
        assessment.indicator_conflicts = conflict_bits
        assessment.version += 1
        assessment.updated_at = now
    await session.flush()
    # a plain multi-row INSERT: building ORM objects for 19 rows cost more than the statement
    await session.execute(
        insert(AssessmentCriterion),
        [{"assessment_id": assessment.id, "number": c.number, "met": c.met, "note": c.note, "indicators": c.indicators}
         for c in criteria],
    )
    after = rules.view(_row(assessment), commune.name, criteria, judge)
    created = locked.assessment is None
    await _audit(session, locked, "create" if created else "replace", commune, year, after)
    return Written(after, created)


async def patch_criterion(
    session: AsyncSession, principal: Principal | None, commune: AdminUnit, year: int, number: int,
    data: CriterionPatch, *, kind: str = AssessmentKind.chuan, if_match: IfMatch = IfMatch(None),
) -> AssessmentPublic:
    """Set one criterion met or not (with an optional note and indicator values); counts follow.
    Frozen like a replace."""
    locked = await _begin(session, principal, commune, year, kind, Action.assessment_write, if_match)
    assessment = locked.assessment
    if assessment is None:
        raise NotFound(_what(commune, year, kind))
    if not 1 <= number <= assessment.criteria_count:
        raise InvalidInput.field(
            "path", "number",
            f"criterion {number} is not in set {assessment.criteria_set}, which has criteria "
            f"1–{assessment.criteria_count}",
        )
    row = await session.get(AssessmentCriterion, (assessment.id, number))
    if row is None:  # pragma: no cover - a stored assessment always has every criterion
        raise NotFound(f"criterion {number} is not recorded")
    changes = data.model_dump(exclude_unset=True)
    judge = await locked.judges(assessment.criteria_set, year)
    new = CriterionResult(number=number, met=data.met, note=changes.get("note", row.note),
                          indicators=changes.get("indicators", row.indicators))
    new = resolve_met([new], judge, prefix="", single=True)[0]
    assert new.met is not None  # resolve_met decided it, or refused the request
    if (row.met, row.note, row.indicators) == (new.met, new.note, new.indicators):
        return locked.before  # type: ignore[return-value]  # nothing changed: same version
    rules.ensure_editable(assessment.status, code=commune.code, year=year, kind=kind)
    row.met, row.note, row.indicators = new.met, new.note, new.indicators
    bit = 1 << (number - 1)
    assessment.met_bits = (assessment.met_bits | bit) if new.met else (assessment.met_bits & ~bit)
    assessment.met_count = bin(assessment.met_bits).count("1")
    conflict = rules.judged(new, judge)
    assessment.indicator_conflicts = (
        (assessment.indicator_conflicts | bit) if rules.conflicts([conflict]) else (assessment.indicator_conflicts & ~bit)
    )
    assessment.version += 1
    assessment.updated_at = utcnow()
    await session.flush()
    after = rules.view(_row(assessment), commune.name, [new if c.number == number else c for c in locked.criteria],
                       judge)
    await _audit(session, locked, "update_criterion", commune, year, after, suffix=f"#{number}")
    return after


STEP_ACTIONS = {Step.submit: Action.assessment_submit, Step.approve: Action.assessment_review,
                Step.reopen: Action.assessment_review}


async def transition(
    session: AsyncSession, principal: Principal | None, commune: AdminUnit, year: int, step: Step, *,
    kind: str = AssessmentKind.chuan, if_match: IfMatch = IfMatch(None),
) -> AssessmentPublic:
    """Submit (the commune or an office above it; keys too), approve or reopen (a person of an
    office above it — never the submitter approving, never an API key)."""
    locked = await _begin(session, principal, commune, year, kind, STEP_ACTIONS[step], if_match)
    assessment = locked.assessment
    if assessment is None:
        raise NotFound(_what(commune, year, kind))
    now = utcnow()
    status, stamp = rules.transition(
        assessment.status, step, actor=locked.principal.actor, now=now,
        stamp=rules.Stamp(assessment.submitted_by, assessment.submitted_at, assessment.approved_by,
                          assessment.approved_at),
    )
    assessment.status = status
    assessment.submitted_by, assessment.submitted_at = stamp.submitted_by, stamp.submitted_at
    assessment.approved_by, assessment.approved_at = stamp.approved_by, stamp.approved_at
    assessment.version += 1
    assessment.updated_at = now
    await session.flush()
    after = rules.view(_row(assessment), commune.name, locked.criteria,
                       await locked.judges(assessment.criteria_set, year))
    await _audit(session, locked, step.value, commune, year, after)
    return after


# ---- upkeep ---------------------------------------------------------------------------------


REJUDGE_CHUNK = 500


def bulk_lock_name(year: int, kind: str) -> str:
    """The lock (``core.locks``) a bulk writer of the year's assessments of ``kind`` holds: an
    import, ``ntm assessments rejudge``. Two of them lock many rows each, in orders nobody can
    align (rows that exist, rows created meanwhile, new rows in a file's order), so they take turns
    rather than deadlock. Single-row writers (a PUT, a step) need none: one row lock each."""
    return f"ntm:assessments:bulk:{year}:{kind}"


async def rejudge(session: AsyncSession) -> tuple[int, int]:
    """Recompute ``indicator_conflicts`` of every stored assessment that holds indicator values,
    with the rules a write uses (``ntm assessments rejudge``): rows written before the column
    existed (migration 17c3e5a7b9d1 set them to 0) or before their set's thresholds were known
    show their conflicts again. A derived column: no version bump, no audit record. Returns
    (assessments checked, assessments changed)."""
    judged = (select(col(Assessment.id), col(Assessment.year), col(Assessment.kind))
              .join(AssessmentCriterion, col(AssessmentCriterion.assessment_id) == col(Assessment.id))
              .where(col(AssessmentCriterion.indicators).is_not(None)).distinct().order_by(col(Assessment.id)))
    found = (await session.execute(judged)).all()
    # the only bulk writer of those years and kinds meanwhile (an import waits, or is waited for)
    await locks.hold(session, [bulk_lock_name(year, kind) for _, year, kind in found])
    ids = [row[0] for row in found]
    checked = changed = 0
    parents: set[str | None] = set()
    judges: dict[int, Judges] = {}
    for start in range(0, len(ids), REJUDGE_CHUNK):
        part = ids[start:start + REJUDGE_CHUNK]
        rows = await session.execute(
            select(Assessment, AdminUnit).join(AdminUnit, col(AdminUnit.id) == col(Assessment.unit_id))
            .where(col(Assessment.id).in_(part)).order_by(col(Assessment.id)).with_for_update(of=Assessment)
        )
        pairs = list(rows.all())
        criteria = await criteria_rows(session, [a.id for a, _ in pairs])  # type: ignore[misc]
        for assessment, commune in pairs:
            held = criteria[assessment.id]  # type: ignore[index]
            if not any(c.indicators for c in held):  # a JSON null is not SQL NULL: filtered here
                continue
            judge = await judges.setdefault(commune.id, Judges(session, commune))(  # type: ignore[arg-type]
                assessment.criteria_set, assessment.year)
            bits = rules.met_bits(rules.conflicts([rules.judged(c, judge) for c in held]))
            checked += 1
            if bits != assessment.indicator_conflicts:
                assessment.indicator_conflicts = bits
                changed += 1
                parents.add(commune.parent_code)
        await session.flush()
    await aggregate_epochs.hold(session, parents)  # after the rows, in code order: the lock order
    return checked, changed

"""Assessments: validation against the criteria set, storage, and reading back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import (
    Assessment,
    AssessmentCriterion,
    AssessmentPublic,
    AssessmentPut,
    AssessmentStatus,
    CriterionPatch,
    CriterionResult,
)
from app.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from app.core.preconditions import IfMatch
from app.core.types import utcnow
from app.criteria import service as criteria_service
from app.reports import rules
from app.criteria.models import CriteriaSet
from app.units import service as units_service
from app.units.models import AdminUnit, UnitLevel, is_ntm_eligible


def met_bits(met: Sequence[int]) -> int:
    """Criterion n met ⇔ bit n−1 set."""
    bits = 0
    for number in met:
        bits |= 1 << (number - 1)
    return bits


async def resolve_commune(session: AsyncSession, code: str, year: int) -> AdminUnit:
    """The commune with this code in ``year``, refusing anything that is not an assessable commune."""
    unit = await units_service.resolve_in_year(session, code, year=year)
    if unit.level != UnitLevel.commune:
        raise InvalidInput.field(
            "path", "code", f"{unit.name} ({code}) is a {unit.level}, not a commune; only communes are assessed."
        )
    if not is_ntm_eligible(unit.kind):
        raise InvalidInput.field(
            "path",
            "code",
            f"{unit.name} ({code}) is a {unit.kind} in {year}: towns, wards and special zones are urban units "
            "and are never assessed against the NTM criteria.",
        )
    return unit


async def _criteria_set_for(session: AsyncSession, year: int, code: str | None, unit: AdminUnit) -> CriteriaSet:
    if code is None:
        return await criteria_service.set_that_applies(session, year, unit=unit)
    cset = await session.get(CriteriaSet, code)
    if cset is None:
        raise InvalidInput.field("body", "criteria_set", f"No criteria set has the code {code!r}.")
    if not cset.first_year <= year <= cset.last_year:
        raise InvalidInput.field(
            "body",
            "criteria_set",
            f"Criteria set {code} ({cset.decision}) is in force {cset.first_year}–{cset.last_year}, not in {year}.",
        )
    await criteria_service.check_issuer(session, cset, unit, year, location="body", field="criteria_set")
    return cset


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


async def get(
    session: AsyncSession, commune: AdminUnit, year: int, *, for_update: bool = False
) -> Assessment | None:
    stmt = select(Assessment).where(Assessment.unit_id == commune.id, Assessment.year == year)
    if for_update:  # writers of one assessment queue up instead of overwriting each other
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def get_or_404(session: AsyncSession, commune: AdminUnit, year: int, *, for_update: bool = False) -> Assessment:
    found = await get(session, commune, year, for_update=for_update)
    if found is None:
        raise NotFound(f"{commune.name} ({commune.code}) has no assessment for {year}.")
    return found


async def _criteria_rows(session: AsyncSession, assessment_ids: Sequence[int]) -> dict[int, list[CriterionResult]]:
    out: dict[int, list[CriterionResult]] = {i: [] for i in assessment_ids}
    if not assessment_ids:
        return out
    rows = await session.execute(
        select(AssessmentCriterion)
        .where(AssessmentCriterion.assessment_id.in_(assessment_ids))
        .order_by(AssessmentCriterion.assessment_id, AssessmentCriterion.number)
    )
    for row in rows.scalars():
        out[row.assessment_id].append(
            CriterionResult(number=row.number, met=row.met, note=row.note, indicators=row.indicators)
        )
    return out


def _public(assessment: Assessment, name: str, criteria: list[CriterionResult]) -> AssessmentPublic:
    met = [c.number for c in criteria if c.met]
    not_met = [c.number for c in criteria if not c.met]
    return AssessmentPublic(
        commune_code=assessment.commune_code,
        commune_name=name,
        year=assessment.year,
        criteria_set=assessment.criteria_set,
        criteria_count=assessment.criteria_count,
        criteria=criteria,
        met_count=assessment.met_count,
        met=met,
        not_met=not_met,
        standard_reached=rules.standard_reached(assessment.met_count, assessment.criteria_count),
        status=AssessmentStatus(assessment.status),
        version=assessment.version,
        created_at=assessment.created_at,
        updated_at=assessment.updated_at,
        submitted_by=assessment.submitted_by,
        submitted_at=assessment.submitted_at,
        approved_by=assessment.approved_by,
        approved_at=assessment.approved_at,
    )


@dataclass(frozen=True)
class Current:
    """A commune's assessment for a year as it stands (None: none yet), with its criteria, read under
    the row lock: what a write replaces, and what its audit record shows as before."""

    assessment: Assessment | None
    criteria: list[CriterionResult]

    def public(self, name: str) -> AssessmentPublic | None:
        """The public form, a snapshot (the write changes the ORM object afterwards)."""
        return None if self.assessment is None else _public(self.assessment, name, self.criteria)


async def lock_current(session: AsyncSession, commune: AdminUnit, year: int) -> Current:
    found = await get(session, commune, year, for_update=True)
    if found is None:
        return Current(None, [])
    return Current(found, (await _criteria_rows(session, [found.id]))[found.id])  # type: ignore[list-item,index]


async def publish(session: AsyncSession, assessment: Assessment, name: str) -> AssessmentPublic:
    rows = await _criteria_rows(session, [assessment.id])  # type: ignore[list-item]
    return _public(assessment, name, rows[assessment.id])  # type: ignore[index]


async def put(
    session: AsyncSession, *, commune: AdminUnit, year: int, data: AssessmentPut, if_match: IfMatch = IfMatch(None),
    current: Current | None = None,
) -> tuple[Assessment, bool]:
    """Create or replace the whole assessment (``current``: as already read by ``lock_current``).
    Returns (assessment, created)."""
    cset = await _criteria_set_for(session, year, data.criteria_set, commune)
    check_criteria(data.criteria, cset.criteria_count, cset.code)
    criteria = sorted(data.criteria, key=lambda c: c.number)
    met = [c.number for c in criteria if c.met]
    now = utcnow()
    if current is None:
        current = await lock_current(session, commune, year)
    existing = current.assessment
    if_match.check(existing.version if existing else None)  # checked under the row lock
    if existing is not None:
        ensure_editable(existing)
    if existing is None:
        assessment = Assessment(
            unit_id=commune.id,  # type: ignore[arg-type]
            commune_code=commune.code,
            year=year,
            criteria_set=cset.code,
            criteria_count=cset.criteria_count,
            met_count=len(met),
            met_bits=met_bits(met),
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(assessment)
        await session.flush()
        created = True
    else:
        assessment = existing
        if assessment.criteria_set == cset.code and current.criteria == criteria:
            return assessment, False  # nothing changed: same version
        await session.execute(delete(AssessmentCriterion).where(AssessmentCriterion.assessment_id == assessment.id))
        assessment.criteria_set = cset.code
        assessment.criteria_count = cset.criteria_count
        assessment.met_count = len(met)
        assessment.met_bits = met_bits(met)
        assessment.version += 1
        assessment.updated_at = now
        created = False
    await session.flush()
    # a plain multi-row INSERT: building ORM objects for 19 rows cost more than the statement
    await session.execute(
        insert(AssessmentCriterion),
        [{"assessment_id": assessment.id, "number": c.number, "met": c.met, "note": c.note, "indicators": c.indicators}
         for c in criteria],
    )
    return assessment, created


async def patch_criterion(
    session: AsyncSession, *, commune: AdminUnit, year: int, number: int, data: CriterionPatch,
    if_match: IfMatch = IfMatch(None),
) -> Assessment:
    assessment = await get_or_404(session, commune, year, for_update=True)
    if_match.check(assessment.version)
    ensure_editable(assessment)
    if not 1 <= number <= assessment.criteria_count:
        raise InvalidInput.field(
            "path",
            "number",
            f"criterion {number} is not in set {assessment.criteria_set}, which has criteria "
            f"1–{assessment.criteria_count}",
        )
    row = await session.get(AssessmentCriterion, (assessment.id, number))
    if row is None:  # pragma: no cover - a stored assessment always has every criterion
        raise NotFound(f"criterion {number} is not recorded")
    changes = data.model_dump(exclude_unset=True)
    new = {"met": data.met, "note": changes.get("note", row.note), "indicators": changes.get("indicators", row.indicators)}
    if (row.met, row.note, row.indicators) == (new["met"], new["note"], new["indicators"]):
        return assessment
    row.met, row.note, row.indicators = new["met"], new["note"], new["indicators"]
    bit = 1 << (number - 1)
    assessment.met_bits = (assessment.met_bits | bit) if data.met else (assessment.met_bits & ~bit)
    assessment.met_count = bin(assessment.met_bits).count("1")
    assessment.version += 1
    assessment.updated_at = utcnow()
    await session.flush()
    return assessment


async def history(
    session: AsyncSession, *, code: str, limit: int, offset: int
) -> tuple[list[AssessmentPublic], int]:
    """All assessments recorded under a commune code, newest first."""
    total = (
        await session.execute(select(func.count()).select_from(Assessment).where(Assessment.commune_code == code))
    ).scalar_one()
    rows = await session.execute(
        select(Assessment, AdminUnit.name)
        .join(AdminUnit, AdminUnit.id == Assessment.unit_id)
        .where(Assessment.commune_code == code)
        .order_by(Assessment.year.desc())
        .limit(limit)
        .offset(offset)
    )
    pairs = list(rows.all())
    criteria = await _criteria_rows(session, [a.id for a, _ in pairs])  # type: ignore[misc]
    return [_public(a, name, criteria[a.id]) for a, name in pairs], total  # type: ignore[index]


def ensure_editable(assessment: Assessment) -> None:
    if assessment.status == AssessmentStatus.approved:
        raise Conflict(
            f"The {assessment.year} assessment of {assessment.commune_code} is approved and locked; "
            "reopen it first (POST …/reopen)."
        )


async def transition(
    session: AsyncSession, *, commune: AdminUnit, year: int, step: str, actor: str
) -> Assessment:
    """The approval workflow: draft → submitted (submit) → approved (approve); reopen → draft.

    Four eyes: the approver must not be the one who submitted.
    """
    assessment = await get_or_404(session, commune, year, for_update=True)
    status = AssessmentStatus(assessment.status)
    now = utcnow()
    if step == "submit":
        if status != AssessmentStatus.draft:
            raise Conflict(f"Only a draft can be submitted; this assessment is {status.value}.")
        assessment.status = AssessmentStatus.submitted.value
        assessment.submitted_by, assessment.submitted_at = actor, now
    elif step == "approve":
        if status != AssessmentStatus.submitted:
            raise Conflict(f"Only a submitted assessment can be approved; this one is {status.value}.")
        if assessment.submitted_by == actor:
            raise Forbidden(f"{actor} submitted this assessment and may not also approve it (four-eyes rule).")
        assessment.status = AssessmentStatus.approved.value
        assessment.approved_by, assessment.approved_at = actor, now
    elif step == "reopen":
        if status == AssessmentStatus.draft:
            raise Conflict("The assessment is already a draft.")
        assessment.status = AssessmentStatus.draft.value
        assessment.submitted_by = assessment.submitted_at = assessment.approved_by = assessment.approved_at = None
    else:  # pragma: no cover - the router only passes the three steps
        raise ValueError(step)
    assessment.version += 1
    assessment.updated_at = now
    await session.flush()
    return assessment

"""The rules of an assessment, as pure functions: which units are assessed, when an assessment
may change, the approval workflow, and the one shape an assessment is shown (and audited) in.

The API's use cases (``service``) and the spreadsheet import (``app.exchange.service``) call
these same functions, so the two paths cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.assessments.models import AssessmentStatus
from app.assessments.schemas import AssessmentPublic, CriterionAssessed, CriterionResult, IndicatorEvaluation
from app.core.errors import Conflict, FieldError, Forbidden
from app.criteria import thresholds as th
from app.criteria.models import AssessmentKind
from app.units.models import UnitLevel, is_ntm_eligible


def met_bits(met: Iterable[int]) -> int:
    """Criterion n met ⇔ bit n−1 set."""
    bits = 0
    for number in met:
        bits |= 1 << (number - 1)
    return bits


def met_numbers(bits: int, count: int) -> list[int]:
    """The criterion numbers 1..count whose bit is set, ascending."""
    return [n for n in range(1, count + 1) if bits >> (n - 1) & 1]


def standard_reached(met_count: int, criteria_count: int) -> bool:
    """A commune reaches the standard when it meets every criterion of its set."""
    return met_count == criteria_count


def not_assessable(*, name: str, code: str, level: str, kind: str, year: int) -> str | None:
    """Why this unit is not assessed against the NTM criteria in ``year``; None when it is (a xã)."""
    if level != UnitLevel.commune:
        return f"{name} ({code}) is a {level}, not a commune; only communes (xã) are assessed."
    if not is_ntm_eligible(kind):
        return (f"{name} ({code}) is a {kind} in {year}: only communes (xã) are assessed against the NTM "
                "criteria; towns, wards and special zones are urban units.")
    return None


def frozen(status: AssessmentStatus | str, *, code: str, year: int, kind: str = AssessmentKind.chuan) -> str | None:
    """Why an assessment in this status may not change (four eyes: what was submitted is what gets
    approved); None for a draft. An assessment of another kind than the standard is named with it."""
    status = AssessmentStatus(status)
    what = f"The {year} assessment of {code}" + ("" if kind == AssessmentKind.chuan else f" of kind {kind}")
    reopen = "POST …/reopen" + ("" if kind == AssessmentKind.chuan else f"?kind={kind}")
    if status == AssessmentStatus.submitted:
        return (f"{what} is submitted; reopen it first ({reopen}) — what is "
                "approved must be exactly what was submitted.")
    if status == AssessmentStatus.approved:
        return f"{what} is approved and locked; reopen it first ({reopen})."
    return None


def ensure_editable(status: AssessmentStatus | str, *, code: str, year: int, kind: str = AssessmentKind.chuan) -> None:
    """409 unless the assessment is a draft."""
    if (reason := frozen(status, code=code, year=year, kind=kind)) is not None:
        raise Conflict(reason)


class Step(StrEnum):
    submit = "submit"
    approve = "approve"
    reopen = "reopen"


@dataclass(frozen=True)
class Stamp:
    """Who moved an assessment along the workflow, and when (None: cleared)."""

    submitted_by: str | None
    submitted_at: dt.datetime | None
    approved_by: str | None
    approved_at: dt.datetime | None


def transition(status: AssessmentStatus | str, step: Step, *, actor: str, stamp: Stamp, now: dt.datetime
               ) -> tuple[AssessmentStatus, Stamp]:
    """The approval workflow: draft → submitted (submit) → approved (approve); reopen → draft.

    Four eyes: the approver is never the one who submitted it (409 for a step the status does
    not allow, 403 for the submitter approving). That keys never approve or reopen is the
    access rule ``app.auth.rules.PERSON_ONLY``."""
    status = AssessmentStatus(status)
    if step == Step.submit:
        if status != AssessmentStatus.draft:
            raise Conflict(f"Only a draft can be submitted; this assessment is {status.value}.")
        return AssessmentStatus.submitted, Stamp(actor, now, None, None)
    if step == Step.approve:
        if status != AssessmentStatus.submitted:
            raise Conflict(f"Only a submitted assessment can be approved; this one is {status.value}.")
        if stamp.submitted_by == actor:
            raise Forbidden(f"{actor} submitted this assessment and may not also approve it (four-eyes rule).")
        return AssessmentStatus.approved, Stamp(stamp.submitted_by, stamp.submitted_at, actor, now)
    if status == AssessmentStatus.draft:
        raise Conflict("The assessment is already a draft.")
    return AssessmentStatus.draft, Stamp(None, None, None, None)


@dataclass(frozen=True)
class Row:
    """An assessment's stored fields, whichever way they were read (ORM object or bulk row)."""

    commune_code: str
    year: int
    criteria_set: str
    criteria_count: int
    met_count: int
    status: AssessmentStatus | str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_by: str | None = None
    submitted_at: dt.datetime | None = None
    approved_by: str | None = None
    approved_at: dt.datetime | None = None
    kind: str = "chuan"


# ---- indicators judged by thresholds (contract v1.2) ----------------------------------------


@dataclass(frozen=True)
class IndicatorRule:
    """One indicator of a criterion: how a value is compared (None: not judged) and its thresholds."""

    code: str
    op: th.Op | None = None
    thresholds: tuple[th.Threshold, ...] = ()


@dataclass(frozen=True)
class Judge:
    """What judging an assessment's indicators needs: the set's indicators by criterion number,
    and the commune's year, region and commune group (the attributes in force that year)."""

    year: int
    region: str | None = None
    commune_group: int | None = None
    indicators: Mapping[int, Sequence[IndicatorRule]] = field(default_factory=dict)


NO_JUDGE = Judge(year=0)


def indicator_errors(number: int, values: Mapping[str, Any] | None, judge: Judge, *, prefix: str) -> list[FieldError]:
    """The problems of a criterion's indicator values: a key that is not an indicator of that
    criterion in the set; a value that is not a finite number (a boolean for a ``bool``
    indicator). A null value is no value. ``prefix`` names the field (``criteria[3].indicators``)."""
    if not values:
        return []
    known = {r.code: r for r in judge.indicators.get(number, ())}
    errors: list[FieldError] = []
    for key, value in values.items():
        where = f"{prefix}.{key}"
        rule = known.get(key)
        if rule is None:
            errors.append(FieldError(
                location="body", field=where, type="unknown_indicator",
                message=f"{key!r} is not an indicator of criterion {number}"
                        + (f" (its indicators: {', '.join(sorted(known))})" if known else " (it has none)"),
            ))
        elif value is None:
            continue
        elif rule.op == th.Op.boolean:
            if not isinstance(value, bool):
                errors.append(FieldError(location="body", field=where, type="indicator_value",
                                         message=f"indicator {key} is a yes/no indicator: its value is true or false"))
        elif not th.is_number(value):
            errors.append(FieldError(location="body", field=where, type="indicator_value",
                                     message=f"indicator {key} takes a finite number"))
    return errors


def evaluate(number: int, values: Mapping[str, Any] | None, judge: Judge
             ) -> tuple[list[IndicatorEvaluation], bool | None]:
    """The criterion's judged indicators (a value, an op and a threshold that applies, in the
    set's order) and ``met_by_indicators``: True when every indicator of the criterion is judged
    and met, False when one judged is not met, None otherwise (and for a criterion without
    indicators)."""
    rules_ = judge.indicators.get(number, ())
    values = values or {}
    judged: list[IndicatorEvaluation] = []
    for rule in rules_:
        value = values.get(rule.code)
        if rule.op is None or value is None:
            continue
        limit = th.select(rule.thresholds, year=judge.year, region=judge.region, commune_group=judge.commune_group)
        if limit is None:
            continue
        met = th.meets(rule.op, value, limit)
        if met is None:
            continue
        judged.append(IndicatorEvaluation(code=rule.code, value=value, op=rule.op, threshold=limit.value, met=met))
    if any(not e.met for e in judged):
        return judged, False
    if rules_ and len(judged) == len(rules_):
        return judged, True
    return judged, None


def judged(criterion: CriterionResult, judge: Judge) -> CriterionAssessed:
    """A criterion as shown: its indicators' evaluation, and ``met`` (when not given: ``met_by_indicators``)."""
    evaluation, by_indicators = evaluate(criterion.number, criterion.indicators, judge)
    met = criterion.met if criterion.met is not None else bool(by_indicators)
    return CriterionAssessed(number=criterion.number, met=met, note=criterion.note, indicators=criterion.indicators,
                           evaluation=evaluation, met_by_indicators=by_indicators)


def conflicts(criteria: Sequence[CriterionAssessed]) -> list[int]:
    """Criteria whose ``met`` disagrees with a non-null ``met_by_indicators``, ascending."""
    return sorted(c.number for c in criteria if c.met_by_indicators is not None and c.met != c.met_by_indicators)


def view(row: Row, name: str, criteria: Sequence[CriterionResult], judge: Judge = NO_JUDGE) -> AssessmentPublic:
    """The one shape of an assessment: the API's answer, and ``before``/``after`` in its audit
    records, whether the change came through the API or an import. ``judge``: what the
    criteria's indicators are judged with (the set's indicators, the commune's attributes)."""
    ordered = [judged(c, judge) for c in sorted(criteria, key=lambda c: c.number)]
    return AssessmentPublic(
        commune_code=row.commune_code,
        commune_name=name,
        year=row.year,
        kind=AssessmentKind(row.kind),
        criteria_set=row.criteria_set,
        criteria_count=row.criteria_count,
        criteria=list(ordered),
        met_count=row.met_count,
        met=[c.number for c in ordered if c.met],
        not_met=[c.number for c in ordered if not c.met],
        standard_reached=standard_reached(row.met_count, row.criteria_count),
        indicator_conflicts=conflicts(ordered),
        status=AssessmentStatus(row.status),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        submitted_by=row.submitted_by,
        submitted_at=row.submitted_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
    )

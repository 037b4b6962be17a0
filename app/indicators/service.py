"""One indicator over a unit's eligible communes in a year, their statuses (rule 2) judged by thresholds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments import service as assessments_service
from app.assessments.models import Assessment, AssessmentCriterion
from app.core.errors import InvalidInput
from app.criteria import service as criteria_service
from app.criteria import thresholds
from app.criteria.models import AssessmentKind, Criterion, Indicator
from app.indicators import rules
from app.indicators.schemas import IndicatorAggregate
from app.reports import queries
from app.units import service as units_service
from app.units.models import AdminUnit

CHUNK = 2000


async def aggregate(session: AsyncSession, unit: AdminUnit, year: int, code: str, *,
                    kind: str = AssessmentKind.chuan) -> IndicatorAggregate:
    """``communes_with_value``, ``communes_meeting``, min/max/mean of indicator ``code`` of the set of
    ``kind`` that applies to the unit.

    A commune counts with its status of ``kind`` in the year (its own assessment, or its latest earlier
    one) when that status was assessed against that set: values against another set's indicators are
    not comparable. Each commune is judged by the threshold that applies to it — its region and
    commune group in force that year (``units.service.attributes_in_year``), exactly as its own
    assessment's `evaluation` judges it."""
    cset = await criteria_service.set_that_applies(session, year, unit=unit, kind=kind, location="query")
    found = (await session.execute(
        select(Indicator, col(Criterion.number)).join(Criterion, col(Criterion.id) == col(Indicator.criterion_id))
        .where(col(Criterion.set_code) == cset.code, col(Indicator.code) == code)
        .order_by(col(Indicator.region).is_not(None), col(Indicator.id))
    )).first()
    if found is None:
        raise InvalidInput.field("query", "code", f"The criteria set {cset.code} that applies in {year} has no "
                                                  f"indicator {code!r}.", type="unknown_indicator")
    indicator, number = found
    # judged by the rule the assessments use (rows repeating the code for another region are one
    # indicator: the first op, every threshold), never by one row of it
    rule = next(r for r in (await assessments_service.set_indicators(session, cset.code)).get(number, [])
                if r.code == code)
    op, limits = rule.op, list(rule.thresholds)

    rows = [r for r in await queries.commune_rows(session, unit, year, kind=kind)
            if r.status is not None and r.status.criteria_set == cset.code]
    wanted = {(r.id, r.status.year) for r in rows if r.status is not None}
    ids = sorted({r.id for r in rows})
    values: dict[int, object] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        stored = await session.execute(
            select(col(Assessment.unit_id), col(Assessment.year), col(AssessmentCriterion.indicators))
            .join(AssessmentCriterion, col(AssessmentCriterion.assessment_id) == col(Assessment.id))
            .where(col(Assessment.unit_id).in_(part), col(Assessment.kind) == kind,
                   col(Assessment.criteria_set) == cset.code, col(Assessment.year) <= year,
                   col(AssessmentCriterion.number) == number)
        )
        for unit_id, y, given in stored:
            if (unit_id, y) in wanted and isinstance(given, dict) and given.get(code) is not None:
                values[unit_id] = given[code]

    attributes = await units_service.attributes_in_year_of(session, sorted(values), year)
    judged: list[tuple[object, bool | None]] = []
    for unit_id, value in values.items():
        found_attributes = attributes[unit_id]
        applies = thresholds.select(limits, year=year, region=found_attributes.region,
                                    commune_group=found_attributes.commune_group)
        met = None if op is None or applies is None else thresholds.meets(op, value, applies)
        judged.append((value, met))
    figures = rules.aggregate(judged)
    return IndicatorAggregate(
        unit_code=unit.code, year=year, criteria_set=cset.code, code=indicator.code, name=indicator.name,
        unit=indicator.unit, op=op, communes_with_value=figures.communes_with_value,
        communes_meeting=figures.communes_meeting, communes_judged=figures.communes_judged,
        min=figures.min, max=figures.max, mean=figures.mean,
    )

"""One indicator over a unit's eligible communes in a year, their statuses (rule 2) judged by thresholds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import Assessment, AssessmentCriterion
from app.core.errors import InvalidInput
from app.criteria import service as criteria_service
from app.criteria import thresholds
from app.criteria.models import Criterion, Indicator
from app.indicators import rules
from app.indicators.schemas import IndicatorAggregate
from app.reports import queries
from app.units.models import AdminUnit

CHUNK = 2000


async def aggregate(session: AsyncSession, unit: AdminUnit, year: int, code: str) -> IndicatorAggregate:
    """``communes_with_value``, ``communes_meeting``, min/max/mean of indicator ``code`` of the set in force.

    A commune counts with its status in the year (its own assessment, or its latest earlier one) when
    that status was assessed against the set in force: values against another set's indicators are
    not comparable. Each commune is judged by the threshold that applies to it (its region, its
    commune group when known, the year)."""
    cset = await criteria_service.set_in_force(session, year, location="query")
    found = (await session.execute(
        select(Indicator, col(Criterion.number)).join(Criterion, col(Criterion.id) == col(Indicator.criterion_id))
        .where(col(Criterion.set_code) == cset.code, col(Indicator.code) == code)
        .order_by(col(Indicator.region).is_not(None), col(Indicator.id))
    )).first()
    if found is None:
        raise InvalidInput.field("query", "code", f"The criteria set {cset.code} in force in {year} has no "
                                                  f"indicator {code!r}.", type="unknown_indicator")
    indicator, number = found
    op = thresholds.Op(indicator.op) if indicator.op else None
    limits = [thresholds.Threshold.from_data(t) for t in indicator.thresholds or []]

    rows = [r for r in await queries.commune_rows(session, unit, year)
            if r.status is not None and r.status.criteria_set == cset.code]
    wanted = {(r.id, r.status.year) for r in rows if r.status is not None}
    ids = sorted({r.id for r in rows})
    values: dict[int, object] = {}
    regions: dict[int, str | None] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        stored = await session.execute(
            select(col(Assessment.unit_id), col(Assessment.year), col(AssessmentCriterion.indicators))
            .join(AssessmentCriterion, col(AssessmentCriterion.assessment_id) == col(Assessment.id))
            .where(col(Assessment.unit_id).in_(part), col(Assessment.criteria_set) == cset.code,
                   col(Assessment.year) <= year, col(AssessmentCriterion.number) == number)
        )
        for unit_id, y, given in stored:
            if (unit_id, y) in wanted and isinstance(given, dict) and given.get(code) is not None:
                values[unit_id] = given[code]
        for unit_id, region in await session.execute(
                select(col(AdminUnit.id), col(AdminUnit.region)).where(col(AdminUnit.id).in_(part))):
            if unit_id is not None:  # ids are primary keys: never None
                regions[unit_id] = region

    judged: list[tuple[object, bool | None]] = []
    for unit_id, value in values.items():
        applies = thresholds.select(limits, year=year, region=regions.get(unit_id), commune_group=None)
        met = None if op is None or applies is None else thresholds.meets(op, value, applies)
        judged.append((value, met))
    figures = rules.aggregate(judged)
    return IndicatorAggregate(
        unit_code=unit.code, year=year, criteria_set=cset.code, code=indicator.code, name=indicator.name,
        unit=indicator.unit, op=op, communes_with_value=figures.communes_with_value,
        communes_meeting=figures.communes_meeting, communes_judged=figures.communes_judged,
        min=figures.min, max=figures.max, mean=figures.mean,
    )

"""/api/v1/units/{code}/indicators: one criteria indicator over the unit's communes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import ReadSessionDep
from app.assessments.schemas import KindQuery
from app.core.errors import problem_responses
from app.core.types import YearNumber
from app.criteria.models import AssessmentKind
from app.indicators import service
from app.indicators.schemas import IndicatorAggregate
from app.units.models import CODE_REGEX
from app.units.service import resolve_unit_above_commune

router = APIRouter(prefix="/units/{code}", tags=["Summaries and flags"])


@router.get("/indicators", operation_id="getIndicatorAggregate", summary="One indicator over the unit's communes",
            response_model=IndicatorAggregate, responses=problem_responses(404, 422))
async def get_indicator(
    session: ReadSessionDep,
    code: Annotated[str, Path(pattern=CODE_REGEX, description="A unit above the commune", examples=["084"])],
    year: Annotated[YearNumber, Query(examples=[2020])],
    indicator: Annotated[str, Query(alias="code", min_length=1, max_length=16, pattern=r"^[0-9A-Za-z][0-9A-Za-z._\-]*$",
                                    description="Indicator code of the set of `kind` that applies", examples=["10.1"])],
    kind: KindQuery = AssessmentKind.chuan,
) -> IndicatorAggregate:
    """Communes with a value, communes meeting the threshold that applies to each, min, max and mean
    (half up to two decimals), over the eligible communes' statuses in the year."""
    unit = await resolve_unit_above_commune(session, code, year)
    return await service.aggregate(session, unit, year, indicator, kind=kind)

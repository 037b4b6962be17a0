"""Request and response shapes of the assessment API (the tables are in ``models``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel
from pydantic import Field as PField

from app.assessments.models import AssessmentStatus
from app.core.types import JSON_INTEGER
from app.criteria.models import AssessmentKind
from app.criteria.thresholds import Op as IndicatorOp

MAX_NOTE = 2000
IndicatorValue = float | int | str | bool | None
IndicatorCode = Annotated[str, PField(min_length=1, max_length=16)]


class CriterionResult(BaseModel):
    number: Annotated[int, PField(ge=1, le=99), JSON_INTEGER] = PField(examples=[1])
    met: bool | None = PField(
        default=None, strict=True, examples=[True],
        description="Omitted or null: `met_by_indicators` (422 when that is null too)",
    )
    note: str | None = PField(default=None, max_length=MAX_NOTE, examples=["Đã phê duyệt quy hoạch chung"])
    indicators: dict[IndicatorCode, IndicatorValue] | None = PField(
        default=None, max_length=50, description="Indicator values by code", examples=[{"10.1": 36.5}]
    )


class AssessmentPut(BaseModel):
    """The whole assessment: every criterion of the set exactly once."""

    criteria_set: str | None = PField(
        default=None, max_length=32, description="Defaults to the set in force for the year", examples=["2016-2020"]
    )
    criteria: list[CriterionResult] = PField(min_length=1, max_length=99)


class CriterionPatch(BaseModel):
    met: bool | None = PField(
        default=None, strict=True, description="Omitted or null: `met_by_indicators` (422 when that is null too)"
    )
    note: str | None = PField(default=None, max_length=MAX_NOTE)
    indicators: dict[IndicatorCode, IndicatorValue] | None = PField(default=None, max_length=50)


class IndicatorEvaluation(BaseModel):
    """One judged indicator of a criterion: its value against the threshold that applies to the
    commune in the year (commune group, then region, then neither)."""

    code: str = PField(examples=["10.1"])
    value: float | int | bool = PField(examples=[41.5])
    op: IndicatorOp = PField(examples=[">="])
    threshold: float | int | bool = PField(examples=[36])
    met: bool = PField(examples=[True])


class CriterionAssessed(BaseModel):
    number: int = PField(examples=[1])
    met: bool = PField(examples=[True])
    note: str | None = PField(default=None, examples=["Đã phê duyệt quy hoạch chung"])
    indicators: dict[str, IndicatorValue] | None = PField(default=None, examples=[{"10.1": 36.5}])
    evaluation: list[IndicatorEvaluation] = PField(default_factory=list)
    met_by_indicators: bool | None = PField(
        default=None, description="true: every indicator judged and met; false: one judged and not met; else null"
    )


class AssessmentPublic(BaseModel):
    commune_code: str = PField(examples=["02812"])
    commune_name: str = PField(examples=["Xã Sán Chải"])
    year: int = PField(examples=[2021])
    kind: AssessmentKind = PField(
        description="The standard assessed against (`?kind=`): `chuan`, `nang_cao`, `kieu_mau` or `hien_dai`",
        examples=["chuan"],
    )
    criteria_set: str = PField(examples=["2016-2020"])
    criteria_count: int = PField(examples=[19])
    criteria: list[CriterionAssessed]
    met_count: int
    met: list[int]
    not_met: list[int]
    standard_reached: bool
    indicator_conflicts: list[int] = PField(
        default_factory=list, description="Criteria whose `met` disagrees with `met_by_indicators`, ascending"
    )
    status: AssessmentStatus
    version: int = PField(description="+1 on every change; also the ETag header")
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_by: str | None = None
    submitted_at: dt.datetime | None = None
    approved_by: str | None = None
    approved_at: dt.datetime | None = None


KindQuery = Annotated[
    AssessmentKind,
    Query(description="The standard assessed against (contract v1.1): `chuan` (the commune standard, the default), "
                      "`nang_cao`, `kieu_mau` or `hien_dai`; judged with the set of that kind that applies",
          examples=["nang_cao"]),
]

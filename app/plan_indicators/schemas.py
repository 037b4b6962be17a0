"""API shapes of plan indicators (contract v1.2, "Plan indicators")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.core.types import JsonDecimal
from app.plan_indicators.models import CODE_MAX, NAME_MAX, NOTE_MAX, SOURCE_MAX, UNIT_MAX
from app.plan_indicators.rules import Direction, NtmLink, figure

MAX_ITEMS = 500  # a conference reports a few dozen to a hundred or so
NUMBER_BOUND = 1e15  # larger than any plan figure (đồng of a province's budget: ~1e13)
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"
# text fields: no control characters (a workbook cannot hold them; no name has them)
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
NOTE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # line breaks allowed in a note

Figure = Annotated[
    float,
    Field(strict=True, allow_inf_nan=False, ge=-NUMBER_BOUND, le=NUMBER_BOUND,
          description="A finite JSON number; kept exactly as written, to six decimal places"),
    AfterValidator(figure),
]
Code = Annotated[str, Field(min_length=1, max_length=CODE_MAX, pattern=CODE_PATTERN,
                            description="The indicator's code in the list (unique in it)", examples=["KT-01"])]


class PlanIndicatorIn(BaseModel):
    """One indicator as sent. ``actual`` must be null (or absent) when ``ntm`` is set: it is computed."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "code": "XH-07", "name": "Giảm tỷ lệ hộ nghèo", "unit": "%", "source": "hdnd", "direction": "higher",
        "plan": 3.5, "actual": 3.1, "note": None, "ntm": None}]})

    code: Code
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=TEXT_PATTERN, examples=["Số trường đạt chuẩn quốc gia"])
    unit: str | None = Field(default=None, max_length=UNIT_MAX, pattern=TEXT_PATTERN,
                             description="Unit of measure (đơn vị tính)", examples=["trường"])
    source: str = Field(min_length=1, max_length=SOURCE_MAX, pattern=TEXT_PATTERN,
                        description="Who set it: `tinh` (the province's plan), `hdnd` (the council's resolution), "
                                    "or another short label", examples=["hdnd"])
    direction: Direction = Field(description="`higher`: achieved when actual ≥ plan; `lower`: actual ≤ plan; "
                                             "`equal`: actual = plan")
    plan: Figure
    actual: Figure | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX, pattern=NOTE_PATTERN)
    ntm: NtmLink | None = Field(default=None, description="Take `actual` from the unit's NTM summary of the year: "
                                                          "`average`, `standard_communes`, `recognized_communes`")


class PlanIndicatorsPut(BaseModel):
    """The year's whole list (it replaces the stored one)."""

    indicators: list[PlanIndicatorIn] = Field(max_length=MAX_ITEMS, description="Codes unique within the list")


class PlanIndicatorPatch(BaseModel):
    """Change one indicator's `actual` and/or `note` (fields absent stay as they are; null clears)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"actual": 1, "note": "01/02 trường đạt chuẩn"}]})

    actual: Figure | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX, pattern=NOTE_PATTERN)


class PlanIndicatorOut(BaseModel):
    code: str
    name: str
    unit: str | None
    source: str
    direction: Direction
    plan: JsonDecimal
    actual: JsonDecimal | None = Field(description="Stored, or for an `ntm` item the live NTM figure")
    note: str | None
    ntm: NtmLink | None
    achieved: bool | None = Field(description="null while there is no actual (pending)")
    percent_of_plan: JsonDecimal | None = Field(description="actual / plan × 100, half up to one decimal; "
                                                            "null when plan is 0 or there is no actual")


class PlanIndicatorsOut(BaseModel):
    unit_code: str = Field(examples=["084"])
    year: int = Field(examples=[2020])
    indicators: list[PlanIndicatorOut]
    version: int = Field(description="+1 on every change; also the ETag")
    updated_at: dt.datetime


class SourceCountOut(BaseModel):
    total: int
    achieved: int


class NotAchievedItem(BaseModel):
    code: str
    name: str
    source: str
    plan: JsonDecimal
    actual: JsonDecimal | None
    percent_of_plan: JsonDecimal | None = Field(examples=[99.6])


class PlanIndicatorSummary(BaseModel):
    unit_code: str = Field(examples=["084"])
    year: int = Field(examples=[2020])
    total: int = Field(examples=[112])
    achieved: int = Field(examples=[106])
    not_achieved: int = Field(examples=[6])
    pending: int = Field(examples=[0])
    by_source: dict[str, SourceCountOut] = Field(
        examples=[{"hdnd": {"total": 65, "achieved": 61}, "tinh": {"total": 47, "achieved": 45}}])
    not_achieved_items: list[NotAchievedItem]

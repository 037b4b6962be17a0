"""API shape of GET /units/{code}/indicators (contract v1.2)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.core.types import JsonDecimal
from app.criteria.thresholds import Op


class IndicatorAggregate(BaseModel):
    unit_code: str = Field(examples=["084"])
    year: int = Field(examples=[2020])
    criteria_set: str = Field(examples=["2016-2020"])
    code: str = Field(examples=["10.1"])
    name: str = Field(examples=["Thu nhập bình quân đầu người khu vực nông thôn đến năm 2020"])
    unit: str | None = Field(examples=["triệu đồng/người/năm"])
    op: Op | None = Field(description="How values are compared with thresholds; null: not judged")
    communes_with_value: int = Field(description="Eligible communes whose status in the year holds a value")
    communes_meeting: int = Field(description="Of those, the ones meeting the threshold that applies to them")
    communes_judged: int = Field(description="Of those, the ones a threshold applies to")
    min: JsonDecimal | None
    max: JsonDecimal | None
    mean: JsonDecimal | None = Field(description="Half up to two decimals; null when no commune has a value")

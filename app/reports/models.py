"""API shapes of the summaries, flags and trend (contract: "Summaries and flags")."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel
from pydantic import Field as PField

from app.core.types import JsonDecimal


class FlagName(StrEnum):
    standard_target = "standard_target"
    standard_reached = "standard_reached"
    at_risk = "at_risk"
    regressed = "regressed"
    behind_plan = "behind_plan"
    recognized_below_standard = "recognized_below_standard"
    carried_forward = "carried_forward"
    missing = "missing"
    indicator_conflict = "indicator_conflict"


class Coverage(BaseModel):
    number: int = PField(examples=[1])
    communes_met: int = PField(examples=[9])


class RecognizedCommunes(BaseModel):
    chuan: int = PField(ge=0, description="Communes holding any valid recognition", examples=[2])
    nang_cao: int = PField(ge=0, description="Holding nâng cao or kiểu mẫu", examples=[1])
    kieu_mau: int = PField(ge=0, description="Holding kiểu mẫu", examples=[1])
    hien_dai: int = PField(ge=0, description="Holding hiện đại (51/2025/QĐ-TTg appendix II pilot)", examples=[0])


class SummaryRow(BaseModel):
    unit_code: str = PField(examples=["084"])
    unit_name: str = PField(examples=["Huyện Si Ma Cai"])
    year: int = PField(examples=[2020])
    criteria_set: str = PField(description="The set in force in the year", examples=["2016-2020"])
    eligible_count: int = PField(description="Communes (xã) of the unit in the year", examples=[9])
    commune_count: int = PField(description="Eligible communes with a status (rule 2)", examples=[9])
    total_criteria_met: int = PField(examples=[139])
    average_exact: JsonDecimal | None = PField(description="total / count, six decimals", examples=[15.444444])
    average: JsonDecimal | None = PField(description="Published average: half up, one decimal", examples=[15.4])
    target_average: JsonDecimal | None = PField(examples=[15.5])
    target_met: bool | None = PField(description="average ≥ target_average (the rounded figure)")
    gap: JsonDecimal | None = PField(description="target_average − average, never below 0", examples=[0.1])
    percent_of_target: JsonDecimal | None = PField(examples=[99.6])
    additional_criteria_needed: int | None = PField(
        description="Smallest k with round_half_up((total + k) / count) ≥ target; null when unreachable",
        examples=[1],
    )
    bands: dict[str, int] = PField(examples=[{"19": 0, "15-18": 9, "10-14": 0, "5-9": 0, "0-4": 0}])
    standard_communes_count: int
    criteria_coverage: list[Coverage] = PField(
        description="Per criterion of the set in force: communes meeting it (statuses assessed against that set)"
    )
    additional_criteria_gained: int | None = PField(
        description="Total in Y − total in Y−1 over the communes with a status in both years"
    )
    min_additional_criteria: int | None
    min_additional_criteria_met: bool | None
    carried_forward: list[str] = PField(description="Communes whose status is an earlier year's assessment")
    missing: list[str] = PField(description="Communes with no assessment up to the year (left out of every figure)")
    recognized_communes: RecognizedCommunes = PField(
        description="Eligible communes holding a recognition valid in the year, cumulative by level: `chuan` any "
        "level, `nang_cao` nâng cao or kiểu mẫu, `kieu_mau` kiểu mẫu, `hien_dai` hiện đại",
    )
    recognized_percent: JsonDecimal | None = PField(
        description="recognized_communes.chuan / eligible_count × 100, half up to one decimal (missing communes "
        "count in the denominator); null when eligible_count is 0",
        examples=[22.2],
    )
    recognized_below_standard_count: int = PField(
        description="Communes with a valid recognition whose status is below its set's criteria count", examples=[1]
    )
    recognized_districts: int | None = PField(
        description="Districts below the unit in the year holding a valid `chuan` or `hoan_thanh` recognition; null "
        "when no district lies below it (after the 2025 reform)",
        examples=[1],
    )
    unit_recognitions: list[str] = PField(
        description="The levels at which the unit itself holds a valid recognition, sorted", examples=[["chuan"]]
    )


class Summary(SummaryRow):
    children: list[SummaryRow] = PField(
        default_factory=list, description="One row per direct child unit that has eligible communes"
    )


class FlagRow(BaseModel):
    commune_code: str = PField(examples=["02812"])
    name: str = PField(examples=["Xã Sán Chải"])
    met_count: int | None = PField(examples=[17])
    target_met_count: int | None = PField(description="From the target's commune_targets", examples=[19])
    band: str | None = PField(default=None, examples=["15-18"])
    flags: list[FlagName]
    missing_criteria: list[int]
    lost_criteria: list[int]


class TrendBasis(StrEnum):
    historic = "historic"  # each year over the units below the unit in that year (v1)
    current = "current"  # each year over the territory of the unit as it is today, through lineage


class TrendRow(SummaryRow):
    basis: TrendBasis = PField(default=TrendBasis.historic, description="`historic`: the units below the unit in "
                               "that year; `current`: today's territory, found through lineage", examples=["current"])
    approximate: bool = PField(default=False, description="True when a commune counted was split and only part "
                               "of it lies in the territory (basis `current`)", examples=[False])
    approximate_communes: list[str] = PField(default_factory=list, description="Those communes' codes, sorted",
                                             examples=[[]])

"""Yearly plans (kế hoạch / chỉ tiêu năm) of a unit above the commune."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, WithJsonSchema, field_validator, model_validator
from pydantic import Field as PField
from sqlalchemy import JSON, Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.errors import InvalidInput
from app.core.types import JSON_INTEGER, JSON_NUMBER, JsonDecimal, UtcDateTime


class Target(SQLModel, table=True):
    __tablename__ = "target"
    __table_args__ = (UniqueConstraint("unit_id", "year"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    unit_id: int = Field(sa_column=Column(Integer, ForeignKey("admin_unit.id"), nullable=False))
    unit_code: str = Field(sa_column=Column(String(8), nullable=False))
    year: int = Field(sa_column=Column(Integer, nullable=False))
    # plans are published to one decimal: stored exactly as tenths (16.1 → 161)
    average_tenths: int = Field(sa_column=Column(Integer, nullable=False))
    standard_communes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    min_additional_criteria: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    commune_targets: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    updated_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))

    @property
    def average_criteria(self) -> Decimal:
        return Decimal(self.average_tenths).scaleb(-1)


# five ASCII digits, stated in the schema (``isdigit`` would also take other scripts' digits)
CommuneCode = Annotated[str, PField(pattern=r"^[0-9]{5}$")]

# more than the country has communes (≈ 10,000 before the 2025 reform)
MAX_COMMUNE_TARGETS = 20_000


class TargetPut(BaseModel):
    # one decimal is a rule (a rule violation, below): as `multipleOf: 0.1` it would be misread by
    # JSON Schema validators working in binary floating point (16.1 / 0.1 = 161.00000000000003)
    average_criteria: Annotated[
        Decimal, PField(ge=0, le=Decimal("999.9")), JSON_NUMBER,
        WithJsonSchema({"type": "number", "minimum": 0, "maximum": 999.9}),
    ] = PField(description="Planned average criteria per commune, one decimal", examples=[16.1])
    standard_communes: list[CommuneCode] = PField(
        default_factory=list, max_length=5000, description="Communes planned to reach the standard this year",
        examples=[["02812"]], json_schema_extra={"uniqueItems": True},
    )
    min_additional_criteria: Annotated[int, PField(ge=0, le=100000), JSON_INTEGER] | None = PField(
        default=None, description="At least this many more criteria in total than last year",
        examples=[6],
    )
    commune_targets: dict[CommuneCode, Annotated[int, PField(ge=0), JSON_INTEGER]] = PField(
        default_factory=dict, max_length=MAX_COMMUNE_TARGETS,
        description=f"Planned criteria count per commune code (at most {MAX_COMMUNE_TARGETS:,} communes)",
        examples=[{"02812": 19}],
        json_schema_extra={"additionalProperties": False},  # every key matches the commune-code pattern
    )

    @model_validator(mode="after")
    def _one_decimal(self) -> TargetPut:
        if (self.average_criteria * 10) % 1:
            raise InvalidInput.field("body", "average_criteria",
                                     f"{self.average_criteria} has more than one decimal; plans are set to one decimal")
        return self

    @field_validator("standard_communes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a commune is named more than once")
        return sorted(value)

    @field_validator("commune_targets")
    @classmethod
    def _target_codes(cls, value: dict[str, int]) -> dict[str, int]:
        return dict(sorted(value.items()))


class TargetPublic(BaseModel):
    unit_code: str = PField(examples=["084"])
    year: int = PField(examples=[2021])
    criteria_set: str = PField(examples=["2016-2020"])
    average_criteria: JsonDecimal = PField(examples=[16.1])
    standard_communes: list[str]
    min_additional_criteria: int | None
    commune_targets: dict[str, int]
    version: int
    updated_at: dt.datetime

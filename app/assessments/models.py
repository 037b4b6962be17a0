"""Yearly assessments of a commune against the criteria set in force: the tables.

Each assessment keeps its ``met_count`` and a bit set of met criteria (bit n−1 for
criterion n) beside the per-criterion rows, so that aggregates over thousands of
communes read one narrow row per commune and sum in SQL.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

<<<<<<< HEAD
from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import EnumText, UtcDateTime
=======
from pydantic import BaseModel
from pydantic import Field as PField
from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import JSON_INTEGER, UtcDateTime

MAX_NOTE = 2000
IndicatorValue = float | int | str | bool | None
>>>>>>> h13


class AssessmentStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"


class Assessment(SQLModel, table=True):
    __tablename__ = "assessment"
    __table_args__ = (
        UniqueConstraint("unit_id", "year"),
        Index("ix_assessment_commune_code_year", "commune_code", "year"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    unit_id: int = Field(sa_column=Column(Integer, ForeignKey("admin_unit.id"), nullable=False))
    commune_code: str = Field(sa_column=Column(String(8), nullable=False))
    year: int = Field(sa_column=Column(Integer, nullable=False))
    criteria_set: str = Field(sa_column=Column(String(32), ForeignKey("criteria_set.code"), nullable=False))
    criteria_count: int = Field(sa_column=Column(Integer, nullable=False))
    met_count: int = Field(sa_column=Column(Integer, nullable=False))
    met_bits: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: AssessmentStatus = Field(
        default=AssessmentStatus.draft, sa_column=Column(EnumText(AssessmentStatus, 16), nullable=False)
    )
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    submitted_by: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    submitted_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    approved_by: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    approved_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))


class AssessmentCriterion(SQLModel, table=True):
    __tablename__ = "assessment_criterion"

    assessment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("assessment.id", ondelete="CASCADE"), primary_key=True)
    )
    number: int = Field(sa_column=Column(Integer, primary_key=True))
    met: bool = Field(sa_column=Column(Boolean, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    indicators: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
<<<<<<< HEAD
=======


# ---- API shapes ---------------------------------------------------------------------------


class CriterionResult(BaseModel):
    number: Annotated[int, PField(ge=1, le=99), JSON_INTEGER] = PField(examples=[1])
    met: bool = PField(strict=True, examples=[True])
    note: str | None = PField(default=None, max_length=MAX_NOTE, examples=["Đã phê duyệt quy hoạch chung"])
    indicators: dict[Annotated[str, PField(min_length=1, max_length=16)], IndicatorValue] | None = PField(
        default=None, max_length=50, description="Indicator values by code", examples=[{"10.1": 36.5}]
    )



class AssessmentPut(BaseModel):
    """The whole assessment: every criterion of the set exactly once."""

    criteria_set: str | None = PField(
        default=None, max_length=32, description="Defaults to the set in force for the year", examples=["2016-2020"]
    )
    criteria: list[CriterionResult] = PField(min_length=1, max_length=99)


class CriterionPatch(BaseModel):
    met: bool = PField(strict=True)
    note: str | None = PField(default=None, max_length=MAX_NOTE)
    indicators: dict[Annotated[str, PField(min_length=1, max_length=16)], IndicatorValue] | None = PField(default=None, max_length=50)


class AssessmentPublic(BaseModel):
    commune_code: str = PField(examples=["02812"])
    commune_name: str = PField(examples=["Xã Sán Chải"])
    year: int = PField(examples=[2021])
    criteria_set: str = PField(examples=["2016-2020"])
    criteria_count: int = PField(examples=[19])
    criteria: list[CriterionResult]
    met_count: int
    met: list[int]
    not_met: list[int]
    standard_reached: bool
    status: AssessmentStatus
    version: int = PField(description="+1 on every change; also the ETag header")
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_by: str | None = None
    submitted_at: dt.datetime | None = None
    approved_by: str | None = None
    approved_at: dt.datetime | None = None
>>>>>>> h13

"""Yearly assessments of a commune against the criteria set in force: the tables.

Each assessment keeps its ``met_count`` and a bit set of met criteria (bit n−1 for
criterion n) beside the per-criterion rows, so that aggregates over thousands of
communes read one narrow row per commune and sum in SQL.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import EnumText, UtcDateTime
from app.criteria.models import AssessmentKind


class AssessmentStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"


class Assessment(SQLModel, table=True):
    __tablename__ = "assessment"
    __table_args__ = (
        # one assessment per commune, kind and year; (unit_id, kind, year) is also the index that
        # "the latest assessment of this kind up to Y" descends
        UniqueConstraint("unit_id", "kind", "year"),
        Index("ix_assessment_commune_code_year", "commune_code", "year"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    unit_id: int = Field(sa_column=Column(Integer, ForeignKey("admin_unit.id"), nullable=False))
    commune_code: str = Field(sa_column=Column(String(8), nullable=False))
    year: int = Field(sa_column=Column(Integer, nullable=False))
    # contract v1.1 "Assessments by kind": the standard the commune is assessed against (chuan,
    # nang_cao, kieu_mau, hien_dai), judged with the set of that kind that applies
    kind: AssessmentKind = Field(
        default=AssessmentKind.chuan,
        sa_column=Column(EnumText(AssessmentKind, 16), nullable=False, server_default=AssessmentKind.chuan.value),
    )
    criteria_set: str = Field(sa_column=Column(String(32), ForeignKey("criteria_set.code"), nullable=False))
    criteria_count: int = Field(sa_column=Column(Integer, nullable=False))
    met_count: int = Field(sa_column=Column(Integer, nullable=False))
    met_bits: int = Field(sa_column=Column(BigInteger, nullable=False))
    # contract v1.2: criteria whose given `met` disagrees with their indicators (bit n−1 for criterion n)
    indicator_conflicts: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
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

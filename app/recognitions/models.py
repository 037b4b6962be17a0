"""Recognition (công nhận): a decision about a commune, a district or a province, kept apart from
the yearly count. A recognition belongs to the unit (its id, not its code: a commune created by a
merger starts with none) and may be revoked (thu hồi)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel
from pydantic import Field as PField
from sqlalchemy import Column, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import JSON_INTEGER, IsoDate, UtcDateTime


class RecognitionLevel(StrEnum):
    """Every level a unit can be recognised at (which ones fit which unit: ``rules.LEVELS_BY_UNIT``)."""

    chuan = "chuan"  # đạt chuẩn nông thôn mới (commune, district)
    nang_cao = "nang_cao"  # nông thôn mới nâng cao (commune, district)
    kieu_mau = "kieu_mau"  # nông thôn mới kiểu mẫu (commune)
    hien_dai = "hien_dai"  # nông thôn mới hiện đại, pilot of 51/2025/QĐ-TTg appendix II (commune)
    hoan_thanh = "hoan_thanh"  # hoàn thành nhiệm vụ xây dựng NTM (town, city, province)


class CommuneRecognitionLevel(StrEnum):
    """The levels of a commune's recognition."""

    chuan = "chuan"
    nang_cao = "nang_cao"
    kieu_mau = "kieu_mau"
    hien_dai = "hien_dai"


class Recognition(SQLModel, table=True):
    __tablename__ = "recognition"
    __table_args__ = (UniqueConstraint("unit_id", "level"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    unit_id: int = Field(sa_column=Column(Integer, ForeignKey("admin_unit.id"), nullable=False, index=True))
    # the unit's code (a commune, a district or a province; the column kept its v1 name)
    commune_code: str = Field(sa_column=Column(String(8), nullable=False, index=True))
    level: str = Field(sa_column=Column(String(16), nullable=False))
    recognition_year: int = Field(sa_column=Column(Integer, nullable=False))
    decision_no: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    decision_date: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    revoked_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    revocation_decision_no: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    updated_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


# ---- API shapes ---------------------------------------------------------------------------


class RecognitionPut(BaseModel):
    """The decision recognising the unit. A PUT replaces the recognition, and clears a revocation
    (the unit was recognised again)."""

    recognition_year: Annotated[int, PField(ge=2010, le=2100), JSON_INTEGER] = PField(
        description="The year the recognition is for", examples=[2021])
    decision_no: str | None = PField(default=None, max_length=64, examples=["123/QĐ-UBND"])
    decision_date: IsoDate | None = PField(default=None, examples=["2022-01-05"])


class RevocationIn(BaseModel):
    """The decision revoking a recognition (thu hồi quyết định công nhận)."""

    revoked_on: IsoDate = PField(description="The day the recognition ends; it is not valid in this day's year",
                                 examples=["2023-05-01"])
    decision_no: str | None = PField(default=None, max_length=64, examples=["45/QĐ-UBND"])


class RecognitionPublic(RecognitionPut):
    unit_code: str = PField(description="The recognised unit", examples=["02812"])
    commune_code: str | None = PField(description="The unit's code when it is a commune (v1 field), else null",
                                      examples=["02812"])
    unit_valid_from: dt.date | None = PField(description="Which unit with that code: its first valid day",
                                             examples=[None])
    level: RecognitionLevel
    revoked_on: dt.date | None = PField(default=None, description="Day of revocation; null while in force",
                                        examples=[None])
    revocation_decision_no: str | None = PField(default=None, examples=[None])
    version: int = PField(ge=1, description="+1 on every change", examples=[1])
    updated_at: dt.datetime

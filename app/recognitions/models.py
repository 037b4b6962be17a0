"""Recognition (công nhận đạt chuẩn): a provincial decision, kept apart from the yearly count."""

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
    chuan = "chuan"  # đạt chuẩn nông thôn mới
    nang_cao = "nang_cao"  # nông thôn mới nâng cao
    kieu_mau = "kieu_mau"  # nông thôn mới kiểu mẫu


class Recognition(SQLModel, table=True):
    __tablename__ = "recognition"
    __table_args__ = (UniqueConstraint("unit_id", "level"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    unit_id: int = Field(sa_column=Column(Integer, ForeignKey("admin_unit.id"), nullable=False, index=True))
    commune_code: str = Field(sa_column=Column(String(8), nullable=False, index=True))
    level: str = Field(sa_column=Column(String(16), nullable=False))
    recognition_year: int = Field(sa_column=Column(Integer, nullable=False))
    decision_no: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    decision_date: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    updated_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class RecognitionPut(BaseModel):
    recognition_year: Annotated[int, PField(ge=2010, le=2100), JSON_INTEGER] = PField(examples=[2021])
    decision_no: str | None = PField(default=None, max_length=64, examples=["123/QĐ-UBND"])
    decision_date: IsoDate | None = PField(default=None, examples=["2022-01-05"])


class RecognitionPublic(RecognitionPut):
    commune_code: str = PField(examples=["02812"])
    level: RecognitionLevel
    updated_at: dt.datetime

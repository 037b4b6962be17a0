"""Tables: one list per unit and year (versioned, like a target), its indicators as rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, String, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import UtcDateTime

CODE_MAX = 32
NAME_MAX = 300
UNIT_MAX = 32
SOURCE_MAX = 32
NOTE_MAX = 1000
NUMBER_TEXT_MAX = 40


class DecimalText(TypeDecorator[Decimal]):
    """A decimal stored as its text: exact on both databases (SQLite has no exact numeric type,
    and plan figures range from 0.5 % to hundreds of billions of đồng)."""

    impl = String(NUMBER_TEXT_MAX)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> str | None:
        return None if value is None else format(Decimal(value).normalize(), "f")

    def process_result_value(self, value: str | None, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


class PlanIndicatorList(SQLModel, table=True):
    """The year's list of a unit: what `version` and `If-Match` are about."""

    __tablename__ = "plan_indicator_list"
    __table_args__ = (UniqueConstraint("unit_id", "year"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    unit_id: int = Field(sa_column=Column(Integer, ForeignKey("admin_unit.id"), nullable=False))
    unit_code: str = Field(sa_column=Column(String(8), nullable=False))
    year: int = Field(sa_column=Column(Integer, nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    updated_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class PlanIndicator(SQLModel, table=True):
    """One indicator of a list, in the order it was given (``position``)."""

    __tablename__ = "plan_indicator"
    __table_args__ = (UniqueConstraint("list_id", "code"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    list_id: int = Field(
        sa_column=Column(Integer, ForeignKey("plan_indicator_list.id", ondelete="CASCADE"), nullable=False)
    )
    position: int = Field(sa_column=Column(Integer, nullable=False))
    code: str = Field(sa_column=Column(String(CODE_MAX), nullable=False))
    name: str = Field(sa_column=Column(String(NAME_MAX), nullable=False))
    unit: str | None = Field(default=None, sa_column=Column(String(UNIT_MAX), nullable=True))
    source: str = Field(sa_column=Column(String(SOURCE_MAX), nullable=False))
    direction: str = Field(sa_column=Column(String(8), nullable=False))
    plan: Decimal = Field(sa_column=Column(DecimalText(), nullable=False))
    actual: Decimal | None = Field(default=None, sa_column=Column(DecimalText(), nullable=True))
    note: str | None = Field(default=None, sa_column=Column(String(NOTE_MAX), nullable=True))
    ntm: str | None = Field(default=None, sa_column=Column(String(24), nullable=True))

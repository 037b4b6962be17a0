"""National criteria sets (bộ tiêu chí quốc gia về xã nông thôn mới) and their criteria.

Band edges and indicator thresholds are data, never code: provinces use other
edges, and a 10-criteria set needs its own.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic import Field as PField
from sqlalchemy import JSON, Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.criteria.rules import Op as IndicatorOp
from app.units.models import Region


class Band(BaseModel):
    """A reporting band: communes whose `met_count` lies in [min, max]."""

    label: str = PField(examples=["15-18"])
    min: int = PField(ge=0, examples=[15])
    max: int = PField(ge=0, examples=[18])


class CriteriaSet(SQLModel, table=True):
    __tablename__ = "criteria_set"

    code: str = Field(sa_column=Column(String(32), primary_key=True))
    name: str = Field(sa_column=Column(String(300), nullable=False))
    decision: str = Field(sa_column=Column(String(64), nullable=False))
    first_year: int = Field(sa_column=Column(Integer, nullable=False))
    last_year: int = Field(sa_column=Column(Integer, nullable=False))
    criteria_count: int = Field(sa_column=Column(Integer, nullable=False))
    # [{"label": "19", "min": 19, "max": 19}, …], highest band first
    bands: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))


class Criterion(SQLModel, table=True):
    __tablename__ = "criterion"
    __table_args__ = (UniqueConstraint("set_code", "number"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    set_code: str = Field(
        sa_column=Column(String(32), ForeignKey("criteria_set.code", ondelete="CASCADE"), nullable=False)
    )
    number: int = Field(sa_column=Column(Integer, nullable=False))
    code: str = Field(sa_column=Column(String(16), nullable=False))
    name: str = Field(sa_column=Column(String(300), nullable=False))
    group: str | None = Field(default=None, sa_column=Column("group_code", String(8), nullable=True))
    group_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


class Indicator(SQLModel, table=True):
    """A measurable indicator (chỉ tiêu) of a criterion; thresholds may differ by region."""

    __tablename__ = "indicator"
    __table_args__ = (UniqueConstraint("criterion_id", "code", "region"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    criterion_id: int = Field(
        sa_column=Column(Integer, ForeignKey("criterion.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    code: str = Field(sa_column=Column(String(16), nullable=False))
    name: str = Field(sa_column=Column(String(300), nullable=False))
    unit: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    threshold: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    region: str | None = Field(default=None, sa_column=Column(String(48), nullable=True))
    # contract v1.2: how a value is compared, and the values by region / commune group / years
    op: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    thresholds: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


# ---- API shapes ---------------------------------------------------------------------------


class ThresholdData(BaseModel):
    """One threshold value and where it applies (null: everywhere / every group / open-ended years)."""

    value: float | bool = PField(allow_inf_nan=False, examples=[36])
    region: Region | None = PField(default=None, examples=["trung_du_mien_nui_phia_bac"])
    commune_group: int | None = PField(default=None, ge=1, le=3, description="51/2025/QĐ-TTg commune group")
    first_year: int | None = PField(default=None, ge=1900, le=2100, examples=[2022])
    last_year: int | None = PField(default=None, ge=1900, le=2100, examples=[None])
    source: str | None = PField(default=None, max_length=120, description="The decision that sets the value",
                                examples=["1980/QĐ-TTg"])


class IndicatorPublic(BaseModel):
    code: str = PField(examples=["10.1"])
    name: str = PField(examples=["Thu nhập bình quân đầu người khu vực nông thôn"])
    unit: str | None = PField(default=None, examples=["triệu đồng/người/năm"])
    threshold: str | None = PField(default=None, examples=["≥ 36"])
    region: str | None = PField(default=None, description="NTM region the threshold applies to; null = every region")
    op: IndicatorOp | None = PField(default=None, description="How a value is compared with its threshold; null: "
                                                              "not judged")
    thresholds: list[ThresholdData] = PField(
        default_factory=list, description="The most specific that matches a commune in the year applies "
                                          "(commune group, then region, then neither); none: not judged")


class CriterionPublic(BaseModel):
    number: int = PField(examples=[10])
    code: str = PField(examples=["TC10"])
    name: str = PField(examples=["Thu nhập"])
    group: str | None = PField(default=None, description="Group numeral (I–V)", examples=["III"])
    group_name: str | None = PField(default=None, examples=["Kinh tế và tổ chức sản xuất"])
    indicators: list[IndicatorPublic] = PField(default_factory=list)


class CriteriaSetPublic(BaseModel):
    code: str = PField(examples=["2016-2020"])
    name: str
    decision: str = PField(examples=["1980/QĐ-TTg"])
    first_year: int = PField(description="First year the set is in force", examples=[2016])
    last_year: int = PField(description="Last year the set is in force", examples=[2021])
    criteria_count: int = PField(examples=[19])
    bands: list[Band]


class CriteriaSetDetail(CriteriaSetPublic):
    criteria: list[CriterionPublic]

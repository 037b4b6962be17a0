"""National criteria sets (bộ tiêu chí quốc gia về xã nông thôn mới) and their criteria.

Band edges and indicator thresholds are data, never code: provinces use other
edges, and a 10-criteria set needs its own.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool, StrictFloat, StrictInt
from pydantic import Field as PField
from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.text import NAME_PATTERN, name_text
from app.core.types import JSON_INTEGER
from app.criteria.thresholds import Op as IndicatorOp
from app.units.models import Region


class Band(BaseModel):
    """A reporting band: communes whose `met_count` lies in [min, max]."""

    label: str = PField(examples=["15-18"])
    min: int = PField(ge=0, examples=[15])
    max: int = PField(ge=0, examples=[18])


class SetKind(StrEnum):
    """What a set is the standard for (contract v1.1)."""

    chuan = "chuan"  # the commune standard (xã đạt chuẩn NTM)
    nang_cao = "nang_cao"  # xã NTM nâng cao
    kieu_mau = "kieu_mau"  # xã NTM kiểu mẫu
    hien_dai = "hien_dai"  # xã NTM hiện đại (51/2025/QĐ-TTg appendix II)
    huyen = "huyen"  # district level
    tinh = "tinh"  # province level (51/2025/QĐ-TTg appendix III)
    thon = "thon"  # village level (thôn/bản NTM)


class AssessmentKind(StrEnum):
    """The kinds of set a commune is assessed against (contract v1.1 "Assessments by kind"): a
    commune has at most one assessment per year and kind."""

    chuan = "chuan"
    nang_cao = "nang_cao"
    kieu_mau = "kieu_mau"
    hien_dai = "hien_dai"


class AppliesTo(StrEnum):
    commune = "commune"
    district = "district"
    province = "province"
    village = "village"


NATIONAL = "national"
MAX_CRITERIA = 63  # an assessment's met criteria (and conflicts) are bits of a signed 64-bit integer
ISSUER_REGEX = r"^(national|[0-9]{2})$"
SET_CODE_REGEX = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"


class CriteriaSet(SQLModel, table=True):
    __tablename__ = "criteria_set"
    __table_args__ = (Index("ix_criteria_set_kind_issuer", "kind", "issuer"),)

    code: str = Field(sa_column=Column(String(32), primary_key=True))
    name: str = Field(sa_column=Column(String(300), nullable=False))
    decision: str = Field(sa_column=Column(String(64), nullable=False))
    kind: str = Field(default=SetKind.chuan.value,
                      sa_column=Column(String(16), nullable=False, server_default=SetKind.chuan.value))
    applies_to: str = Field(default=AppliesTo.commune.value,
                            sa_column=Column(String(16), nullable=False, server_default=AppliesTo.commune.value))
    # "national", or the code of the province that adapted a national set
    issuer: str = Field(default=NATIONAL, sa_column=Column(String(8), nullable=False, server_default=NATIONAL))
    base_set: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
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


def _name(value: Any) -> Any:
    return name_text(value) if isinstance(value, str) else value


# text shown in workbooks and pages: stored NFC, no control character (a workbook cannot hold one);
# the pattern is published, `name_text` enforces it with a message naming the character
NameText = Annotated[str, BeforeValidator(_name), PField(json_schema_extra={"pattern": NAME_PATTERN})]
# a code that heads an import column: letters, digits, `.`, `_`, `-`, never starting like a formula
CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,15}$"


class ThresholdData(BaseModel):
    """One threshold value and where it applies (null: everywhere / every group / open-ended years)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt `comune_group` would silently apply everywhere

    value: StrictInt | Annotated[StrictFloat, PField(allow_inf_nan=False)] | StrictBool = PField(
        description="A number (for `>=`, `<=`, `=`) or true/false (for `bool`); never text", examples=[36])
    region: Region | None = PField(default=None, examples=["trung_du_mien_nui_phia_bac"])
    commune_group: Annotated[int, PField(ge=1, le=3), JSON_INTEGER] | None = PField(
        default=None, description="51/2025/QĐ-TTg commune group")
    first_year: Annotated[int, PField(ge=1900, le=2100), JSON_INTEGER] | None = PField(default=None, examples=[2022])
    last_year: Annotated[int, PField(ge=1900, le=2100), JSON_INTEGER] | None = PField(default=None, examples=[None])
    source: NameText | None = PField(default=None, max_length=120, description="The decision that sets the value",
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
    kind: SetKind = PField(default=SetKind.chuan, description="What the set is the standard for", examples=["chuan"])
    applies_to: AppliesTo = PField(default=AppliesTo.commune, description="The level of unit it judges",
                                   examples=["commune"])
    issuer: str = PField(default=NATIONAL, description='`"national"`, or the code of the province that adapted a '
                         "national set", examples=["national"])
    base_set: str | None = PField(default=None, description="The national set an adaptation derives from",
                                  examples=[None])
    first_year: int = PField(description="First year the set is in force", examples=[2016])
    last_year: int = PField(description="Last year the set is in force", examples=[2021])
    criteria_count: int = PField(examples=[19])
    bands: list[Band]


class CriteriaSetDetail(CriteriaSetPublic):
    criteria: list[CriterionPublic]


# ---- writes ---------------------------------------------------------------------------------




class IndicatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = PField(min_length=1, max_length=16, pattern=CODE_PATTERN, examples=["10.1"])
    name: NameText = PField(min_length=1, max_length=300, examples=["Thu nhập bình quân đầu người"])
    unit: NameText | None = PField(default=None, max_length=64, examples=["triệu đồng/người/năm"])
    threshold: NameText | None = PField(default=None, max_length=120,
                                        description="The threshold as the decision words it", examples=["≥ 36"])
    region: Region | None = PField(default=None, examples=[None], description="A legacy per-row region; prefer "
                                   "`thresholds[].region`")
    op: IndicatorOp | None = PField(default=None, description="How a value is compared with its threshold "
                                    "(contract v1.2); null: not judged", examples=[">="])
    thresholds: list[ThresholdData] = PField(
        default_factory=list, max_length=50,
        description="Values by region / commune group / years; the most specific that matches a commune in the "
                    "year applies (commune group, then region, then neither); none: not judged. Needs `op`.",
        examples=[[{"value": 36, "region": None, "commune_group": None, "first_year": 2022, "last_year": None}]])


class CriterionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # at most 63: an assessment keeps its met criteria as bits of a signed 64-bit integer
    number: Annotated[int, PField(ge=1, le=MAX_CRITERIA), JSON_INTEGER] = PField(examples=[1])
    code: str = PField(min_length=1, max_length=16, pattern=CODE_PATTERN, examples=["TC01"])
    name: NameText = PField(min_length=1, max_length=300, examples=["Quy hoạch"])
    group: NameText | None = PField(default=None, max_length=8, examples=["I"])
    group_name: NameText | None = PField(default=None, max_length=200, examples=["Quy hoạch"])
    indicators: list[IndicatorIn] = PField(default_factory=list, max_length=100)


BANDS_EXAMPLE = [{"label": "19", "min": 19, "max": 19}, {"label": "15-18", "min": 15, "max": 18},
                 {"label": "10-14", "min": 10, "max": 14}, {"label": "5-9", "min": 5, "max": 9},
                 {"label": "0-4", "min": 0, "max": 4}]
CRITERIA_EXAMPLE = [{"number": 1, "code": "TC01", "name": "Quy hoạch", "group": "I", "group_name": "Quy hoạch",
                     "indicators": [{"code": "1.1", "name": "Có quy hoạch chung xây dựng xã được phê duyệt",
                                     "threshold": "Đạt"}]}]


class CriteriaSetCreate(BaseModel):
    """A criteria set: a national one, or a province's adaptation of a national set."""

    model_config = ConfigDict(extra="forbid")

    code: str = PField(pattern=SET_CODE_REGEX, max_length=32, examples=["LC-2021-2025"])
    name: NameText = PField(min_length=1, max_length=300, examples=["Bộ tiêu chí xã NTM tỉnh Lào Cai 2021–2025"])
    decision: NameText = PField(min_length=1, max_length=64, examples=["1234/QĐ-UBND"])
    kind: SetKind = PField(default=SetKind.chuan, examples=["chuan"])
    applies_to: AppliesTo = PField(default=AppliesTo.commune, examples=["commune"])
    issuer: str = PField(default=NATIONAL, pattern=ISSUER_REGEX, max_length=8, examples=["10"])
    base_set: str | None = PField(default=None, max_length=32, examples=["2021-2025"])
    first_year: Annotated[int, PField(ge=1900, le=2100), JSON_INTEGER] = PField(examples=[2022])
    last_year: Annotated[int, PField(ge=1900, le=2100), JSON_INTEGER] = PField(examples=[2025])
    bands: list[Band] = PField(min_length=1, max_length=20, examples=[BANDS_EXAMPLE])
    criteria: list[CriterionIn] = PField(min_length=1, max_length=MAX_CRITERIA, description="Numbered 1…n, each once",
                                         examples=[CRITERIA_EXAMPLE])


class CriteriaSetUpdate(BaseModel):
    """Fields to change; omitted ones stay. Once an assessment uses the set only `name`, `decision`,
    `last_year` and `bands` may change (else 409)."""

    model_config = ConfigDict(extra="forbid")

    name: NameText | None = PField(default=None, min_length=1, max_length=300, examples=["Bộ tiêu chí xã NTM tỉnh Lào Cai"])
    decision: NameText | None = PField(default=None, min_length=1, max_length=64, examples=["1235/QĐ-UBND"])
    kind: SetKind | None = PField(default=None, examples=["chuan"])
    applies_to: AppliesTo | None = PField(default=None, examples=["commune"])
    issuer: str | None = PField(default=None, pattern=ISSUER_REGEX, max_length=8, examples=["10"])
    base_set: str | None = PField(default=None, max_length=32, examples=["2021-2025"])
    first_year: Annotated[int, PField(ge=1900, le=2100), JSON_INTEGER] | None = PField(default=None, examples=[2022])
    last_year: Annotated[int, PField(ge=1900, le=2100), JSON_INTEGER] | None = PField(default=None, examples=[2026])
    bands: list[Band] | None = PField(default=None, min_length=1, max_length=20, examples=[BANDS_EXAMPLE])
    criteria: list[CriterionIn] | None = PField(default=None, min_length=1, max_length=MAX_CRITERIA,
                                                examples=[CRITERIA_EXAMPLE])

    MUTABLE_WHEN_USED: ClassVar[frozenset[str]] = frozenset({"name", "decision", "last_year", "bands"})

"""Administrative units: tables and API shapes.

A unit is a code *plus* a validity period: the 2025 reform reused codes (02809
was Thị trấn Si Ma Cai until 2025-06-30 and is Xã Si Ma Cai from 2025-07-01).
``valid_from`` null means "since before the records start"; ``valid_to`` null
means "still valid".
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ValidationInfo, field_validator, model_validator
from pydantic import Field as PField
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.errors import FieldError, InvalidInput
from app.core.text import NAME_PATTERN, name_text
from app.core.types import IsoDate, UtcDateTime


class UnitLevel(StrEnum):
    country = "country"
    province = "province"
    district = "district"
    commune = "commune"


class UnitKind(StrEnum):
    quoc_gia = "quoc_gia"
    tinh = "tinh"
    thanh_pho_tw = "thanh_pho_tw"
    huyen = "huyen"
    thi_xa = "thi_xa"
    thanh_pho = "thanh_pho"
    quan = "quan"
    xa = "xa"
    thi_tran = "thi_tran"
    phuong = "phuong"
    dac_khu = "dac_khu"


class Region(StrEnum):
    """The seven NTM regions whose indicator thresholds differ."""

    trung_du_mien_nui_phia_bac = "trung_du_mien_nui_phia_bac"
    dong_bang_song_hong = "dong_bang_song_hong"
    bac_trung_bo = "bac_trung_bo"
    duyen_hai_nam_trung_bo = "duyen_hai_nam_trung_bo"
    tay_nguyen = "tay_nguyen"
    dong_nam_bo = "dong_nam_bo"
    dong_bang_song_cuu_long = "dong_bang_song_cuu_long"


KINDS_BY_LEVEL: dict[UnitLevel, frozenset[UnitKind]] = {
    UnitLevel.country: frozenset({UnitKind.quoc_gia}),
    UnitLevel.province: frozenset({UnitKind.tinh, UnitKind.thanh_pho_tw}),
    UnitLevel.district: frozenset({UnitKind.huyen, UnitKind.thi_xa, UnitKind.thanh_pho, UnitKind.quan}),
    UnitLevel.commune: frozenset({UnitKind.xa, UnitKind.thi_tran, UnitKind.phuong, UnitKind.dac_khu}),
}
# A commune sits under a district before the 2025 reform and under a province after it.
PARENT_LEVELS: dict[UnitLevel, frozenset[UnitLevel]] = {
    UnitLevel.country: frozenset(),
    UnitLevel.province: frozenset({UnitLevel.country}),
    UnitLevel.district: frozenset({UnitLevel.province}),
    UnitLevel.commune: frozenset({UnitLevel.district, UnitLevel.province}),
}
CODE_PATTERNS: dict[UnitLevel, re.Pattern[str]] = {
    UnitLevel.country: re.compile(r"^VN$"),
    UnitLevel.province: re.compile(r"^\d{2}$"),
    UnitLevel.district: re.compile(r"^\d{3}$"),
    UnitLevel.commune: re.compile(r"^\d{5}$"),
}
CODE_REGEX = r"^(VN|[0-9]{2}|[0-9]{3}|[0-9]{5})$"


def is_ntm_eligible(kind: str) -> bool:
    """Only communes proper (xã) enter NTM figures; towns, wards and special zones never do."""
    return kind == UnitKind.xa


def valid_between(valid_from: dt.date | None, valid_to: dt.date | None, day: dt.date) -> bool:
    """A unit with this validity period is valid on the day (both ends included, open when None)."""
    return (valid_from is None or valid_from <= day) and (valid_to is None or day <= valid_to)


class AdminUnit(SQLModel, table=True):
    __tablename__ = "admin_unit"
    __table_args__ = (
        UniqueConstraint("code", "valid_from"),
        Index("ix_admin_unit_parent_code", "parent_code"),
        Index("ix_admin_unit_level_kind", "level", "kind"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    code: str = Field(sa_column=Column(String(8), nullable=False, index=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    name_search: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    level: str = Field(sa_column=Column(String(16), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    parent_code: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    region: str | None = Field(default=None, sa_column=Column(String(48), nullable=True))
    valid_from: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    valid_to: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))

    def valid_on(self, day: dt.date) -> bool:
        return valid_between(self.valid_from, self.valid_to, day)


class UnitLineage(SQLModel, table=True):
    """One merger/split edge: the predecessor unit continued (wholly or partly) as the successor."""

    __tablename__ = "unit_lineage"

    predecessor_id: int = Field(
        sa_column=Column(Integer, ForeignKey("admin_unit.id", ondelete="CASCADE"), primary_key=True)
    )
    successor_id: int = Field(
        sa_column=Column(Integer, ForeignKey("admin_unit.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class UnitAttribute(SQLModel, table=True):
    """A unit's attributes set for one year (51/2025/QĐ-TTg judges by commune group); a null field is
    not set that year and is carried from an earlier year."""

    __tablename__ = "unit_attribute"
    __table_args__ = (UniqueConstraint("unit_id", "year"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    unit_id: int = Field(sa_column=Column(Integer, ForeignKey("admin_unit.id", ondelete="CASCADE"), nullable=False))
    year: int = Field(sa_column=Column(Integer, nullable=False))
    commune_group: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    region: str | None = Field(default=None, sa_column=Column(String(48), nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    updated_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


# ---- API shapes ---------------------------------------------------------------------------


class UnitBase(BaseModel):
    # the pattern is published; `name_text` enforces it, with a message naming the character
    name: str = PField(min_length=1, max_length=200, json_schema_extra={"pattern": NAME_PATTERN},
                       examples=["Xã Sán Chải"])
    level: UnitLevel = PField(examples=["commune"])
    kind: UnitKind = PField(examples=["xa"])
    parent_code: str | None = PField(default=None, max_length=8, examples=["084"])
    region: Region | None = PField(default=None, examples=["trung_du_mien_nui_phia_bac"])
    valid_from: IsoDate | None = PField(default=None, description="First day the unit exists; null = before records")
    valid_to: IsoDate | None = PField(default=None, description="Last day the unit exists; null while current")

    @field_validator("name", mode="before")
    @classmethod
    def _nfc_name(cls, value: Any) -> Any:
        # before the schema's pattern, so that a refused name is named with its character
        return name_text(value) if isinstance(value, str) else value


class UnitCreate(UnitBase):
    """A new unit. Codes follow the GSO shapes: `VN`, 2 digits (province), 3 (district), 5 (commune)."""

    code: str = PField(max_length=8, pattern=CODE_REGEX, examples=["02812"])
    predecessor_codes: list[str] = PField(
        default_factory=list,
        description="Units this one continues (each resolved to the unit with that code valid the day before "
        "`valid_from`); they get this unit as a successor",
        examples=[["02812", "02800"]],
    )

    @model_validator(mode="after")
    def _rules(self) -> UnitCreate:
        """Rules across fields, which the schema does not state: checked once every field fits the
        schema, and answered as a rule violation (``/problems/rule-violation``) naming each field."""
        errors: list[FieldError] = []

        def refuse(field: str, message: str) -> None:
            errors.append(FieldError(location="body", field=field, message=message))

        level = self.level
        if self.kind not in KINDS_BY_LEVEL[level]:
            allowed = ", ".join(sorted(KINDS_BY_LEVEL[level]))
            refuse("kind", f"kind {self.kind.value!r} does not fit level {level.value!r} (allowed: {allowed})")
        if level == UnitLevel.country and self.parent_code is not None:
            refuse("parent_code", "the national root has no parent")
        if level != UnitLevel.country and not self.parent_code:
            refuse("parent_code", f"a {level.value} needs a parent_code")
        if self.valid_to and self.valid_from and self.valid_to < self.valid_from:
            refuse("valid_to", "valid_to must not be before valid_from")
        if not CODE_PATTERNS[level].match(self.code):
            refuse("code", f"code {self.code!r} does not have the shape of a {level.value} code")
        if errors:
            raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
        return self


class UnitUpdate(BaseModel):
    """Fields that may change on an existing unit; omitted fields stay as they are."""

    # name and kind may be omitted but never set to null (the schema says so: no `null` in their type)
    name: Annotated[
        str, PField(min_length=1, max_length=200, json_schema_extra={"pattern": NAME_PATTERN})
    ] | SkipJsonSchema[None] = None
    kind: UnitKind | SkipJsonSchema[None] = None
    region: Region | None = PField(default=None, description="`null` removes the region")
    valid_to: IsoDate | None = PField(default=None, description="Close the unit: its last valid day (`null`: open again)")

    @field_validator("name", "kind", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null; leave it out to keep it as it is")
        return value

    @field_validator("name", mode="before")
    @classmethod
    def _nfc_name(cls, value: Any) -> Any:
        return name_text(value) if isinstance(value, str) else value


class UnitPublic(UnitBase):
    code: str = PField(examples=["02812"])
    ntm_eligible: bool = PField(description="True only for communes proper (kind `xa`)")
    predecessor_codes: list[str] = PField(default_factory=list)
    successor_codes: list[str] = PField(default_factory=list)


class LineageEntry(BaseModel):
    """A unit at one step of the lineage, with its distance from the asked unit."""

    unit: UnitPublic
    depth: int = PField(description="1 = direct predecessor/successor, 2 = one further, …")


class UnitLineagePublic(BaseModel):
    unit: UnitPublic
    predecessors: list[LineageEntry]
    successors: list[LineageEntry]


class AttributesPut(BaseModel):
    """A unit's attributes for a year; a null field is not set for that year (carried from an earlier one)."""

    commune_group: Literal[1, 2, 3] | None = PField(
        default=None, description="Commune group of 51/2025/QĐ-TTg (3: khu vực II/III in ethnic-minority and "
        "mountain areas)", examples=[3])
    region: Region | None = PField(default=None, description="NTM region", examples=["trung_du_mien_nui_phia_bac"])


class AttributesPublic(AttributesPut):
    """What was written for the year (null: not set that year)."""

    unit_code: str = PField(examples=["02809"])
    year: int = PField(examples=[2026])
    version: int = PField(ge=1, examples=[1])
    updated_at: dt.datetime


class YearAttributesPublic(BaseModel):
    """The attributes in force in a year: each field from the latest year up to it that sets it, else from the
    unit (`region`)."""

    year: int = PField(examples=[2026])
    commune_group: int | None = PField(examples=[3])
    region: str | None = PField(examples=["trung_du_mien_nui_phia_bac"])

"""Users, API keys and failed logins; the principal a request acts as."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from app.core.config import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from app.core.types import EnumText, UtcDateTime
from app.units.models import CODE_REGEX


class Role(StrEnum):
    admin = "admin"
    province = "province"
    district = "district"
    commune = "commune"
    viewer = "viewer"


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    role: Role = Field(sa_column=Column(EnumText(Role, 16), nullable=False))
    unit_code: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    # the unit bound to (a code plus its validity period): scope follows the unit, not the code
    unit_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("admin_unit.id"), nullable=True))
    disabled: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    # moved by a password change or a disable: tokens carry it (`gen`) and older ones answer 401
    token_generation: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    name: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    prefix: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False))
    role: Role = Field(sa_column=Column(EnumText(Role, 16), nullable=False))
    unit_code: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    unit_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("admin_unit.id"), nullable=True))
    created_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))


class LoginFailure(SQLModel, table=True):
    """One failed password login, kept to slow and then refuse guessing (per username)."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_username_at", "username", "at"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    username: str = Field(sa_column=Column(String(64), nullable=False))
    at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class PrincipalKind(StrEnum):
    user = "user"
    api_key = "api_key"
    system = "system"  # the service's own tools (demo loader, command line), never a person


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user, or a system through an API key (``api-key:<name>``),
    bound to one unit (``unit_id``: a code plus its validity period; None for an admin)."""

    actor: str
    role: Role
    unit_code: str | None
    unit_id: int | None = None
    kind: PrincipalKind = PrincipalKind.user

    @classmethod
    def system(cls, name: str) -> Principal:
        """The service's own tool ``name`` acting with full rights (audited as ``system:<name>``)."""
        return cls(actor=f"system:{name}", role=Role.admin, unit_code=None, kind=PrincipalKind.system)

    @property
    def is_person(self) -> bool:
        """A signed-in person, not a system holding an API key."""
        return self.kind == PrincipalKind.user


# ---- API shapes ---------------------------------------------------------------------------

USERNAME = r"^[a-zA-Z0-9_.@-]{3,64}$"


class _Strict(BaseModel):
    # fields a client must not set (ids, hashes, audit fields) are refused, never applied
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Strict):
    username: str = PField(pattern=USERNAME, examples=["can.bo.sanchai"])
    password: str = PField(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH, examples=["a long passphrase"])
    role: Role
    unit_code: str | None = PField(
        default=None, pattern=CODE_REGEX, description="Required for every role but admin", examples=["02812"]
    )


class UserUpdate(_Strict):
    role: Role | None = None
    unit_code: str | None = PField(default=None, pattern=CODE_REGEX)
    disabled: bool | None = PField(default=None, strict=True)
    password: str | None = PField(default=None, min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)


class UserPublic(BaseModel):
    username: str
    role: Role
    unit_code: str | None
    disabled: bool
    created_at: dt.datetime


class Me(UserPublic):
    """Who the credential is: a user, or a system through an API key."""

    kind: Literal["user", "api_key"] = PField(description="`user` (a bearer token) or `api_key` (`X-API-Key`)")
    username: str = PField(description="The user's name; for an API key `api-key:<name>`, as the audit trail names it",
                           examples=["si-ma-cai"])
    key_id: int | None = PField(default=None, description="The API key's `id` (`null` for a user)")


class ApiKeyCreate(_Strict):
    name: str = PField(pattern=r"^[a-z0-9][a-z0-9_.-]{2,63}$", examples=["lao-cai-sync"])
    role: Role
    unit_code: str | None = PField(default=None, pattern=CODE_REGEX, examples=["10"])


class ApiKeyPublic(BaseModel):
    id: int
    name: str
    role: Role
    unit_code: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class ApiKeyCreated(ApiKeyPublic):
    key: str = PField(description="Shown this once; send it as `X-API-Key`")


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = PField(description="Seconds")


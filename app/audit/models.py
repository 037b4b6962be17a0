"""The audit trail: one append-only record per write, in the same transaction as the write."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, Index, Integer, String
from sqlmodel import Field, SQLModel

from app.core.types import UtcDateTime


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_record"
    __table_args__ = (Index("ix_audit_record_at", "at"), Index("ix_audit_record_entity_key", "entity", "key"))

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    actor: str = Field(sa_column=Column(String(120), nullable=False, index=True))
    action: str = Field(sa_column=Column(String(32), nullable=False))
    entity: str = Field(sa_column=Column(String(32), nullable=False))
    key: str = Field(sa_column=Column(String(120), nullable=False))
    # "/VN/10/084/02812/": the unit the record concerns and its ancestors, for scope filters
    unit_path: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    before: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    request_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class AuditPublic(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    action: str
    entity: str
    key: str
    before: Any = None
    after: Any = None
    request_id: str | None = None

"""Import results and the record that makes a retried upload a no-op."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PField
from sqlalchemy import JSON, Column, Integer, String
from sqlmodel import Field, SQLModel

from app.core.sheets import ImportRowError
from app.core.types import UtcDateTime
from app.criteria.models import AssessmentKind


class ImportRequest(SQLModel, table=True):
    """An import done under an ``Idempotency-Key``: the same key from the same actor answers this result."""

    __tablename__ = "import_request"

    actor: str = Field(sa_column=Column(String(120), primary_key=True))
    key: str = Field(sa_column=Column(String(200), primary_key=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int = Field(sa_column=Column(Integer, nullable=False))
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


ImportError_ = ImportRowError  # the earlier name (the schema is published as ImportRowError)


class ImportResult(BaseModel):
    """What an import did (or, for a dry run or a refused file, would have done)."""

    year: int = PField(examples=[2021])
    kind: AssessmentKind = PField(default=AssessmentKind.chuan, description="The kind of the assessments imported "
                                  "(`?kind=`)", examples=["chuan"])
    criteria_set: str = PField(examples=["2016-2020"], description="The set that judged the rows: the set of the kind "
                                                                   "that applies to the file's communes")
    dry_run: bool = False
    rows: int = PField(description="Commune rows read (blank rows and the template's untouched rows excluded)")
    created: int
    updated: int
    unchanged: int
    skipped: int = PField(0, description="Rows with a code and every criterion and indicator cell blank: left alone")
    errors: list[ImportRowError] = PField(default_factory=list)


class ImportProblem(ImportResult):
    """422: the file has errors and nothing was written; every error is listed. The file fits the
    schema (any bytes); its rows break the import's rules, hence ``/problems/rule-violation``."""

    type: str = "/problems/rule-violation"
    title: str = "Import rejected"
    status: int = 422
    detail: str

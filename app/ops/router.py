"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.core import migrations
from app.core.db import Database
from app.core.errors import NotReady, problem_responses

router = APIRouter(tags=["Operations"])
log = logging.getLogger("ntm.ops")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    schema_revision: str | None
    head_revision: str | None


@router.get("/healthz", summary="Liveness")
async def healthz() -> Health:
    """The process is alive and answering."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness",
    responses={503: {**problem_responses(503)[503], "description": "Database unreachable or schema not at head"}},
)
async def readyz(request: Request) -> Readiness:
    """Ready when the database answers and its schema is at the migrations' head revision."""
    db: Database = request.app.state.db
    head = migrations.head_revision()
    try:
        current = await migrations.current_revision(db.engine)
    except Exception as exc:  # any failure to reach the database means "not ready"
        log.warning("readiness check failed: %s", exc)
        raise NotReady("Database unreachable.") from exc
    if current != head:
        raise NotReady(
            f"Database schema is at {current or 'no revision'}, migrations head is {head}: run `ntm db upgrade`."
        )
    return Readiness(status="ready", database=db.dialect, schema_revision=current, head_revision=head)

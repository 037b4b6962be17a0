"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import func, insert, select
from sqlmodel import col

from app.assessments.models import Assessment, AssessmentStatus
from app.auth.models import LoginFailure
from app.core import migrations
from app.core.db import WRITE_OPTION, Database
from app.core.errors import NotReady, problem_responses
from app.core.types import utcnow

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


_PROBE = insert(LoginFailure)


async def _accepts_writes(db: Database) -> None:
    """Write a row and roll it back: a read-only SQLite file or a read-only PostgreSQL (a standby,
    ``default_transaction_read_only``) fails here instead of on the first real write."""
    async with db.engine.connect() as connection:
        await connection.execution_options(**{WRITE_OPTION: True})  # SQLite: BEGIN IMMEDIATE, the write lock
        transaction = await connection.begin()
        try:
            await connection.execute(_PROBE, {"username": "ntm-readyz-probe", "at": utcnow()})
        finally:
            await transaction.rollback()


@router.get(
    "/readyz",
    summary="Readiness",
    responses={503: {**problem_responses(503)[503], "description": "Database unreachable or schema not at head"}},
)
async def readyz(request: Request) -> Readiness:
    """Ready when the database answers, its schema is at the migrations' head revision, and it
    accepts a write (rolled back)."""
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
    try:
        await _accepts_writes(db)
    except Exception as exc:
        log.warning("readiness check failed: the database refuses writes: %s", exc)
        raise NotReady("The database does not accept writes (read-only?).") from exc
    return Readiness(status="ready", database=db.dialect, schema_revision=current, head_revision=head)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    """Requests and latency per route, the database pool, assessments per status, cache size, requests
    waiting for a turn (this worker)."""
    db: Database = request.app.state.db
    collected = request.app.state.metrics
    pool = db.engine.pool
    collected.pool_in_use.set(getattr(pool, "checkedout", lambda: 0)())
    collected.cache_entries.set(len(db.cache))
    collected.waiting.set(request.app.state.turns.waiting)
    async with db.transaction(write=False) as session:
        rows = await session.execute(select(col(Assessment.status), func.count()).group_by(col(Assessment.status)))
        counts = dict(rows.all())
    for status in AssessmentStatus:
        collected.assessments.labels(status.value).set(counts.get(status, 0))
    body, content_type = collected.render()
    return Response(body, media_type=content_type)

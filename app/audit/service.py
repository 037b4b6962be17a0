"""Writing and reading audit records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit.models import AuditPublic, AuditRecord
from app.core.logging import request_id_var
from app.core.types import utcnow


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def unit_path(chain: Sequence[str] | None) -> str | None:
    """``/VN/10/084/02812/`` from a chain nearest-first: what scope filters match on."""
    return "/" + "/".join(reversed(chain)) + "/" if chain else None


def entry(
    *, actor: str, action: str, entity: str, key: str, before: Any, after: Any,
    unit_chain: Sequence[str] | None = None, at: dt.datetime | None = None, request_id: str | None = None,
) -> dict[str, Any]:
    """One audit record's columns — the only builder, for the API's writes and the bulk import
    alike. ``before``/``after``: the prior and new state (API shapes are dumped as JSON);
    ``request_id`` defaults to the current request's."""
    return {
        "at": at or utcnow(), "actor": actor, "action": action, "entity": entity, "key": key,
        "unit_path": unit_path(unit_chain), "before": _plain(before), "after": _plain(after),
        "request_id": request_id if request_id is not None else request_id_var.get(),
    }


async def append(session: AsyncSession, record: dict[str, Any]) -> None:
    """Add one record (from ``entry``) in the caller's transaction: it exists exactly when the
    change does."""
    session.add(AuditRecord(**record))
    await session.flush()


async def record(
    session: AsyncSession,
    actor: str,
    action: str,
    entity: str,
    key: str,
    before: Any,
    after: Any,
    *,
    unit_chain: Sequence[str] | None = None,
) -> None:
    """Append one record by ``actor`` (a username, or ``api-key:<name>``) in the caller's transaction."""
    await append(session, entry(actor=actor, action=action, entity=entity, key=key, before=before,
                                after=after, unit_chain=unit_chain))


async def search(
    session: AsyncSession,
    *,
    entity: str | None,
    unit: str | None,
    scope: str | None,
    actor: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[AuditPublic], int]:
    """Newest first. ``unit``/``scope``: records about that unit or anything below it."""
    conditions = []
    if entity:
        conditions.append(col(AuditRecord.entity) == entity)
    for code in (unit, scope):
        if code:
            conditions.append(col(AuditRecord.unit_path).like(f"%/{code}/%"))
    if actor:
        conditions.append(col(AuditRecord.actor) == actor)
    if since:
        conditions.append(col(AuditRecord.at) >= since)
    if until:
        conditions.append(col(AuditRecord.at) <= until)
    total = (await session.execute(select(func.count()).select_from(AuditRecord).where(*conditions))).scalar_one()
    rows = await session.execute(
        select(AuditRecord).where(*conditions).order_by(col(AuditRecord.id).desc()).limit(limit).offset(offset)
    )
    items = [
        AuditPublic(id=r.id, at=r.at, actor=r.actor, action=r.action, entity=r.entity, key=r.key,
                    before=r.before, after=r.after, request_id=r.request_id)
        for r in rows.scalars()
    ]
    return items, total

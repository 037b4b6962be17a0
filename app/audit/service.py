"""Writing and reading audit records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditPublic, AuditRecord
from app.auth.models import Principal
from app.core.types import utcnow


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


async def record(
    session: AsyncSession,
    request: Request | None,
    principal: Principal,
    action: str,
    entity: str,
    key: str,
    before: Any,
    after: Any,
    *,
    unit_chain: Sequence[str] | None = None,
) -> None:
    """Append one record in the caller's transaction (so it exists exactly when the change does)."""
    session.add(
        AuditRecord(
            at=utcnow(),
            actor=principal.actor,
            action=action,
            entity=entity,
            key=key,
            unit_path="/" + "/".join(reversed(unit_chain)) + "/" if unit_chain else None,
            before=_plain(before),
            after=_plain(after),
            request_id=getattr(request.state, "request_id", None) if request is not None else None,
        )
    )
    await session.flush()


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
        conditions.append(AuditRecord.entity == entity)
    for code in (unit, scope):
        if code:
            conditions.append(AuditRecord.unit_path.like(f"%/{code}/%"))
    if actor:
        conditions.append(AuditRecord.actor == actor)
    if since:
        conditions.append(AuditRecord.at >= since)
    if until:
        conditions.append(AuditRecord.at <= until)
    total = (await session.execute(select(func.count()).select_from(AuditRecord).where(*conditions))).scalar_one()
    rows = await session.execute(
        select(AuditRecord).where(*conditions).order_by(AuditRecord.id.desc()).limit(limit).offset(offset)
    )
    items = [
        AuditPublic(id=r.id, at=r.at, actor=r.actor, action=r.action, entity=r.entity, key=r.key,  # type: ignore[arg-type]
                    before=r.before, after=r.after, request_id=r.request_id)
        for r in rows.scalars()
    ]
    return items, total

"""/api/v1/audit: the trail of every change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.api.deps import Page, PageDep, ReadSessionDep
from app.audit import service
from app.audit.models import AuditPublic
from app.auth.deps import PrincipalDep, authenticate, require
from app.auth.models import Role
from app.auth.rules import Action
from app.core.errors import problem_responses
from app.core.types import IsoDateTime

router = APIRouter(prefix="/audit", tags=["Access"], dependencies=[Depends(authenticate)])


@router.get("", summary="The audit trail", responses=problem_responses(401, 403, 422))
async def list_audit(
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    entity: Annotated[str | None, Query(max_length=32, description="assessment, target, unit, user, …")] = None,
    unit: Annotated[str | None, Query(max_length=8, description="That unit and everything below it")] = None,
    actor: Annotated[str | None, Query(max_length=120)] = None,
    since: Annotated[IsoDateTime | None, Query(
        description="From this moment on: an ISO 8601 date-time (without an offset, UTC) or a date (its midnight)",
    )] = None,
    until: Annotated[IsoDateTime | None, Query(description="Up to this moment (as `since`)")] = None,
) -> Page[AuditPublic]:
    """Newest first. Admins see everything; district and province users what concerns their unit."""
    who = require(principal, Action.audit_read)
    scope = None if who.role == Role.admin else who.unit_code
    items, total = await service.search(
        session, entity=entity, unit=unit, scope=scope, actor=actor, since=since, until=until,
        limit=page.limit, offset=page.offset,
    )
    return page.of(items, total)

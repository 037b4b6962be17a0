"""Authentication and authorisation for every API route."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service
from app.auth.models import Principal
from app.auth.rules import ROLE_ACTIONS, Action, allowed
from app.core.changes import ACCOUNTS
from app.core.db import Database, write_intent
from app.core.errors import Forbidden, Unauthorized
from app.units import service as units_service
from app.units.models import AdminUnit

_READS = frozenset({"GET", "HEAD"})
# The dashboard's sign-in cookie (an access token). Honoured on reads only, so that a page on
# another site cannot make a signed-in browser change anything (no CSRF on writes).
SESSION_COOKIE = "ntm_session"


async def authenticate(request: Request) -> Principal | None:
    """The principal behind the request (bearer token, ``X-API-Key``, or on reads the dashboard's cookie).

    401 for bad credentials, and for none at all unless the request is a read and
    ``NTM_PUBLIC_READ`` is on (then the principal is None: anonymous).
    """
    db: Database = request.app.state.db
    settings = request.app.state.settings
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if not authorization and not api_key and request.method in _READS and (cookie := request.cookies.get(SESSION_COOKIE)):
        authorization = f"Bearer {cookie}"
    principal: Principal | None = None
    if api_key:
        write_intent.set(False)
        async with db.transaction() as session:
            principal = await service.principal_for_key(session, api_key)
    elif authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send `Authorization: Bearer <token>` from POST /api/v1/auth/token.")
        username = service.token_subject(settings, token.strip())
        generation = await db.cache.generation(ACCOUNTS)
        # the account as found since the last change of any account; else look it up again
        principal = db.cache.active(username, generation)
        if principal is None:
            write_intent.set(False)
            async with db.transaction() as session:
                principal = await service.principal_for_user(session, username)
            db.cache.note_active(username, generation, principal)
    elif not (settings.public_read and request.method in _READS):
        raise Unauthorized(
            "Sign in: POST /api/v1/auth/token for a bearer token, or send an `X-API-Key` header."
        )
    return principal


PrincipalDep = Annotated[Principal | None, Depends(authenticate)]


def require(principal: Principal | None, action: Action) -> Principal:
    """The principal's role may take this action somewhere (scope is checked by ``authorize``)."""
    if principal is None:
        raise Unauthorized("Sign in to change data.")
    if action not in ROLE_ACTIONS[principal.role]:
        raise Forbidden(f"The role {principal.role.value!r} may not {action.value.replace('_', ' ')}.")
    return principal


async def authorize(
    session: AsyncSession, principal: Principal | None, action: Action, unit: AdminUnit, *, on: dt.date | None = None
) -> tuple[Principal, list[str]]:
    """403 unless the principal's role allows the action on this unit (its unit or below).

    Returns the principal and the unit's chain of codes (for the audit record)."""
    principal = require(principal, action)
    chain = await units_service.chain(session, unit, on=on)
    if not allowed(principal.role, principal.unit_code, action, chain):
        raise Forbidden(
            f"{principal.actor} ({principal.role.value} of {principal.unit_code}) may not "
            f"{action.value.replace('_', ' ')} for {unit.name} ({unit.code}): outside its scope."
        )
    return principal, chain

"""Authentication and authorisation for every API route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from app.auth import service
from app.auth.access import require
from app.auth.models import Principal
from app.auth.rules import Action
from app.core.changes import ACCOUNTS
from app.core.config import API_PREFIX
from app.core.db import Database
from app.core.errors import Unauthorized

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
        async with db.transaction(write=False) as session:
            principal = await service.principal_for_key(session, api_key)
    elif authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(f"Send `Authorization: Bearer <token>` from POST {API_PREFIX}/auth/token.")
        subject = service.token_subject(settings, token.strip())
        generation = await db.cache.generation(ACCOUNTS)
        # the account as found (enabled, at the token's generation) since the last change of any
        # account; else look it up again
        principal = db.cache.active(subject, generation)
        if principal is None:
            async with db.transaction(write=False) as session:
                principal = await service.principal_for_user(session, *subject)
            db.cache.note_active(subject, generation, principal)
    elif not (settings.public_read and request.method in _READS):
        raise Unauthorized(
            f"Sign in: POST {API_PREFIX}/auth/token for a bearer token, or send an `X-API-Key` header."
        )
    return principal


PrincipalDep = Annotated[Principal | None, Depends(authenticate)]


def requires(action: Action) -> Callable[[Principal | None], Awaitable[Principal]]:
    """A dependency: the request's principal, refused (401/403) unless its role may take ``action``."""

    async def dependency(principal: PrincipalDep) -> Principal:  # async: no I/O, so no thread hop
        return require(principal, action)

    return dependency

"""/api/v1/auth, /users, /api-keys: sign-in, accounts and system keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import Field

from app.api.deps import Page, PageDep, ReadSessionDep, WriteSessionDep
from app.auth import service
from app.auth.deps import PrincipalDep, authenticate, requires
from app.auth.models import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    Me,
    Principal,
    PrincipalKind,
    Token,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from app.auth.rules import Action
from app.core.config import API_PREFIX
from app.core.errors import Unauthorized, problem_responses
from app.core.types import DIGITS_ONLY

API_KEY_ACTOR = "api-key:"  # how an API key's principal is named (auth service, audit trail)
token_router = APIRouter(tags=["Access"])
router = APIRouter(tags=["Access"], dependencies=[Depends(authenticate)])

AdminDep = Annotated[Principal, Depends(requires(Action.manage_access))]


@token_router.post("/auth/token", summary="Sign in", responses=problem_responses(401, 422, 429))
async def token(
    request: Request, response: Response, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> Token:
    """OAuth2 password flow (the Swagger UI "Authorize" button): a bearer token for the user."""
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    user = await service.login(request.app.state.db, request.app.state.settings, form.username, form.password)
    if user is None:
        raise Unauthorized("Wrong username or password, or the account is disabled.",
                           headers={"Cache-Control": "no-store"})
    access, lifetime = service.issue_token(request.app.state.settings, user.username, user.token_generation)
    return Token(access_token=access, expires_in=lifetime)


@router.get("/users/me", summary="Who am I", responses=problem_responses(401))
async def me(session: ReadSessionDep, principal: PrincipalDep) -> Me:
    """The credential's owner: the signed-in user (`kind: user`) or the API key (`kind: api_key`), with
    its role and unit. Anonymous reads (`NTM_PUBLIC_READ`) have no owner: 401."""
    if principal is None:
        raise Unauthorized(f"Sign in: POST {API_PREFIX}/auth/token for a bearer token, or send an `X-API-Key` header.")
    if principal.kind == PrincipalKind.api_key:
        key = await service.get_key_by_name(session, principal.actor.removeprefix(API_KEY_ACTOR))
        return Me(kind="api_key", username=principal.actor, role=key.role, unit_code=key.unit_code,
                  disabled=key.revoked_at is not None, created_at=key.created_at, key_id=key.id)
    return Me(kind="user", **service.user_public(await service.get_user(session, principal.actor)).model_dump())


@router.post("/users", summary="Create a user", status_code=status.HTTP_201_CREATED,
             responses=problem_responses(401, 403, 404, 409, 422))
async def create_user(session: WriteSessionDep, actor: AdminDep, data: UserCreate) -> UserPublic:
    """A signed-in administrator only, never an API key (403). Every role but admin is bound to one
    unit of its level (a viewer to any unit): the unit with that code valid today, as
    `GET /units/{code}` resolves it."""
    return await service.create_user(session, actor, data)


@router.get("/users", summary="List users", responses=problem_responses(401, 403, 422))
async def list_users(session: ReadSessionDep, actor: AdminDep, page: PageDep) -> Page[UserPublic]:
    """A signed-in administrator only, never an API key (403)."""
    users, total = await service.list_users(session, limit=page.limit, offset=page.offset)
    return page.of(users, total)


@router.patch("/users/{username}", summary="Change a user", responses=problem_responses(401, 403, 404, 409, 422))
async def update_user(
    session: WriteSessionDep, actor: AdminDep, username: Annotated[str, Path(max_length=64)], data: UserUpdate,
) -> UserPublic:
    """A signed-in administrator only, never an API key (403): role, unit, disabled, password.
    Administrators cannot disable or demote themselves (409), so the service is never left without
    the account that made the change."""
    return await service.update_user(session, actor, username, data)


@router.post("/api-keys", summary="Create an API key", status_code=status.HTTP_201_CREATED,
             responses=problem_responses(401, 403, 404, 409, 422))
async def create_key(session: WriteSessionDep, actor: AdminDep, data: ApiKeyCreate, response: Response
                     ) -> ApiKeyCreated:
    """A signed-in administrator only, never an API key (403). The answer is the only time the key
    is shown; it is stored hashed."""
    response.headers["Cache-Control"] = "no-store"
    return await service.create_key(session, actor, data)


@router.get("/api-keys", summary="List API keys", responses=problem_responses(401, 403))
async def list_keys(session: ReadSessionDep, actor: AdminDep) -> Page[ApiKeyPublic]:
    """A signed-in administrator only, never an API key (403); keys themselves are never shown again."""
    keys = await service.list_keys(session)
    return Page(items=keys, total=len(keys), limit=len(keys), offset=0)


# a database integer: larger ids cannot exist, and PostgreSQL refuses them with an error
KeyId = Annotated[int, Field(ge=1, le=2**31 - 1), DIGITS_ONLY, Path(description="The key's `id`", examples=[1])]


@router.delete("/api-keys/{key_id}", summary="Revoke an API key", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(401, 403, 404))
async def revoke_key(session: WriteSessionDep, actor: AdminDep, key_id: KeyId) -> Response:
    """A signed-in administrator only, never an API key (403). A revoked key is refused with 401
    from then on."""
    await service.revoke_key(session, actor, key_id)
    return Response(status_code=204)

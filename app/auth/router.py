"""/api/v1/auth, /users, /api-keys: sign-in, accounts and system keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from pydantic import Field
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import Page, PageDep, SessionDep
from app.auth import service
from app.auth.deps import PrincipalDep, authenticate, require
from app.auth.models import (
    ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, Me, Role, Token, User, UserCreate, UserPublic, UserUpdate,
)
from app.auth.rules import Action
from app.audit import service as audit
from app.core.errors import Conflict, Unauthorized, problem_responses
from app.core.types import DIGITS_ONLY

API_KEY_ACTOR = "api-key:"  # how an API key's principal is named (auth service, audit trail)
token_router = APIRouter(tags=["Access"])
router = APIRouter(tags=["Access"], dependencies=[Depends(authenticate)])


def user_public(user: User) -> UserPublic:
    return UserPublic(username=user.username, role=user.role, unit_code=user.unit_code,  # type: ignore[arg-type]
                      disabled=user.disabled, created_at=user.created_at)


def key_public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(id=key.id, name=key.name, role=key.role, unit_code=key.unit_code,  # type: ignore[arg-type]
                        created_at=key.created_at, revoked_at=key.revoked_at)


@token_router.post("/auth/token", summary="Sign in", responses=problem_responses(401, 422, 429))
async def token(
    request: Request, session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> Token:
    """OAuth2 password flow (the Swagger UI "Authorize" button): a bearer token for the user."""
    user = await service.login(session, request.app.state.settings, form.username, form.password)
    if user is None:
        await session.commit()  # keep the recorded failure: the error below rolls back what is left
        raise Unauthorized("Wrong username or password, or the account is disabled.")
    access, lifetime = service.issue_token(request.app.state.settings, user.username)
    return Token(access_token=access, expires_in=lifetime)


@router.get("/users/me", summary="Who am I", responses=problem_responses(401))
async def me(session: SessionDep, principal: PrincipalDep) -> Me:
    """The credential's owner: the signed-in user (`kind: user`) or the API key (`kind: api_key`), with
    its role and unit. Anonymous reads (`NTM_PUBLIC_READ`) have no owner: 401."""
    if principal is None:
        raise Unauthorized("Sign in: POST /api/v1/auth/token for a bearer token, or send an `X-API-Key` header.")
    if principal.actor.startswith(API_KEY_ACTOR):
        key = await service.get_key_by_name(session, principal.actor.removeprefix(API_KEY_ACTOR))
        return Me(kind="api_key", username=principal.actor, role=Role(key.role), unit_code=key.unit_code,
                  disabled=key.revoked_at is not None, created_at=key.created_at, key_id=key.id)
    return Me(kind="user", **user_public(await service.get_user(session, principal.actor)).model_dump())


@router.post("/users", summary="Create a user", status_code=status.HTTP_201_CREATED,
             responses=problem_responses(401, 403, 404, 409, 422))
async def create_user(request: Request, session: SessionDep, principal: PrincipalDep, data: UserCreate) -> UserPublic:
    """Admin only. Every role but admin is bound to one unit of its level (a viewer to any unit)."""
    actor = require(principal, Action.administer)
    user = await service.create_user(session, data)
    await audit.record(session, request, actor, "create", "user", user.username, None, user_public(user))
    return user_public(user)


@router.get("/users", summary="List users", responses=problem_responses(401, 403, 422))
async def list_users(session: SessionDep, principal: PrincipalDep, page: PageDep) -> Page[UserPublic]:
    """Admin only."""
    require(principal, Action.administer)
    users, total = await service.list_users(session, limit=page.limit, offset=page.offset)
    return page.of([user_public(u) for u in users], total)


@router.patch("/users/{username}", summary="Change a user", responses=problem_responses(401, 403, 404, 409, 422))
async def update_user(
    request: Request, session: SessionDep, principal: PrincipalDep, username: Annotated[str, Path(max_length=64)],
    data: UserUpdate,
) -> UserPublic:
    """Admin only: role, unit, disabled, password. Administrators cannot disable or demote themselves
    (409), so the service is never left without the account that made the change."""
    actor = require(principal, Action.administer)
    user = await service.get_user(session, username)
    if user.username == actor.actor and (data.disabled or (data.role is not None and data.role != user.role)):
        raise Conflict("You cannot disable your own account or change your own role; ask another administrator.")
    before = user_public(user)
    user = await service.update_user(session, user, data)
    after = user_public(user)
    action = "password" if data.password and before == after else "update"
    await audit.record(session, request, actor, action, "user", user.username, before, after)
    return after


@router.post("/api-keys", summary="Create an API key", status_code=status.HTTP_201_CREATED,
             responses=problem_responses(401, 403, 404, 409, 422))
async def create_key(request: Request, session: SessionDep, principal: PrincipalDep, data: ApiKeyCreate) -> ApiKeyCreated:
    """Admin only. The answer is the only time the key is shown; it is stored hashed."""
    actor = require(principal, Action.administer)
    row, key = await service.create_key(session, data)
    public = key_public(row)
    await audit.record(session, request, actor, "create", "api_key", str(row.id), None, public)
    return ApiKeyCreated(**public.model_dump(), key=key)


@router.get("/api-keys", summary="List API keys", responses=problem_responses(401, 403))
async def list_keys(session: SessionDep, principal: PrincipalDep) -> Page[ApiKeyPublic]:
    """Admin only; keys themselves are never shown again."""
    require(principal, Action.administer)
    keys = [key_public(k) for k in await service.list_keys(session)]
    return Page(items=keys, total=len(keys), limit=len(keys), offset=0)


# a database integer: larger ids cannot exist, and PostgreSQL refuses them with an error
KeyId = Annotated[int, Field(ge=1, le=2**31 - 1), DIGITS_ONLY, Path(description="The key's `id`", examples=[1])]


@router.delete("/api-keys/{key_id}", summary="Revoke an API key", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(401, 403, 404))
async def revoke_key(request: Request, session: SessionDep, principal: PrincipalDep, key_id: KeyId) -> Response:
    """Admin only. A revoked key is refused with 401 from then on."""
    actor = require(principal, Action.administer)
    row = await service.revoke_key(session, key_id)
    await audit.record(session, request, actor, "revoke", "api_key", str(row.id), None, key_public(row))
    return Response(status_code=204)

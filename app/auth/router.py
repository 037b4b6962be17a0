"""/api/v1/auth, /users, /api-keys: sign-in, accounts and system keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import Page, PageDep, SessionDep
from app.auth import service
from app.auth.deps import PrincipalDep, authenticate, require
from app.auth.models import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, Token, User, UserCreate, UserPublic, UserUpdate
from app.auth.rules import Action
from app.audit import service as audit
from app.core.errors import Conflict, Unauthorized, problem_responses
from app.core.types import WholeNumber

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
async def me(session: SessionDep, principal: PrincipalDep) -> UserPublic:
    """The signed-in user (API keys have no user record: 401)."""
    if principal is None or principal.actor.startswith("api-key:"):
        raise Unauthorized("Only a signed-in user has a profile.")
    return user_public(await service.get_user(session, principal.actor))


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
async def create_key(request: Request, response: Response, session: SessionDep, principal: PrincipalDep,
                     data: ApiKeyCreate) -> ApiKeyCreated:
    """Admin only. The answer is the only time the key is shown; it is stored hashed."""
    response.headers["Cache-Control"] = "no-store"
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
KeyId = Annotated[WholeNumber, Path(ge=1, le=2**31 - 1, description="The key's `id`", examples=[1])]


@router.delete("/api-keys/{key_id}", summary="Revoke an API key", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(401, 403, 404))
async def revoke_key(request: Request, session: SessionDep, principal: PrincipalDep, key_id: KeyId) -> Response:
    """Admin only. A revoked key is refused with 401 from then on."""
    actor = require(principal, Action.administer)
    row = await service.revoke_key(session, key_id)
    await audit.record(session, request, actor, "revoke", "api_key", str(row.id), None, key_public(row))
    return Response(status_code=204)

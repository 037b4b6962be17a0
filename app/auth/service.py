"""Credentials: password hashing, access tokens, API keys, the login throttle, and finding
the principal behind a request."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
import time
from functools import lru_cache

import jwt
from pwdlib import PasswordHash
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit import service as audit
from app.auth.models import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    LoginFailure,
    Principal,
    PrincipalKind,
    Role,
    User,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from app.auth.rules import ROLE_UNIT_LEVEL
from app.core.config import Settings
from app.core.db import Database
from app.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from app.core.types import utcnow
from app.units import service as units_service
from app.units.models import AdminUnit

ALGORITHM = "HS256"
API_KEY_PREFIX = "ntm_"


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()  # argon2id


def hash_password(password: str) -> str:
    return _hasher().hash(password)


# A hash to verify against when the username is unknown, so both cases take the same time.
_DUMMY_HASH: str | None = None


def verify_password(password: str, password_hash: str | None) -> bool:
    global _DUMMY_HASH
    if password_hash is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_urlsafe(16))
        _hasher().verify(password, _DUMMY_HASH)
        return False
    return _hasher().verify(password, password_hash)


def issue_token(settings: Settings, username: str, generation: int = 0) -> tuple[str, int]:
    """A signed access token for the user at its current token generation (``gen``)."""
    lifetime = settings.access_token_minutes * 60
    now = utcnow()
    claims = {"sub": username, "gen": generation, "iat": now, "exp": now + dt.timedelta(seconds=lifetime),
              "typ": "access"}
    return jwt.encode(claims, settings.signing_key, algorithm=ALGORITHM), lifetime


# who a token speaks for: the username and the token generation it was issued at
TokenSubject = tuple[str, int]
# Tokens already verified, by (key, token): their subject and expiry. A repeated request skips
# the signature check and claim parsing; expiry is still enforced on every use.
_VERIFIED: dict[tuple[str, str], tuple[TokenSubject, float]] = {}


def token_subject(settings: Settings, token: str) -> TokenSubject:
    """The username a token was issued to and its generation; 401 for a tampered, expired or
    unsigned token. Whether the generation is still the user's is checked against the account."""
    known = _VERIFIED.get((settings.signing_key, token))
    if known is not None and known[1] > time.time():
        return known[0]
    try:
        claims = jwt.decode(
            token, settings.signing_key, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The access token has expired; sign in again.") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The access token is not valid.") from exc
    generation = claims.get("gen")
    if claims.get("typ") != "access" or not isinstance(claims["sub"], str) or type(generation) is not int:
        raise Unauthorized("The access token is not valid.")
    if len(_VERIFIED) > 10_000:
        _VERIFIED.clear()
    subject = (claims["sub"], generation)
    _VERIFIED[(settings.signing_key, token)] = (subject, float(claims["exp"]))
    return subject


def _key_hash(key: str) -> str:
    # API keys carry 256 random bits: a plain SHA-256 is enough to store them safely.
    return hashlib.sha256(key.encode()).hexdigest()


async def principal_for_user(session: AsyncSession, username: str, generation: int | None = None) -> Principal:
    """The principal of an enabled account; 401 when unknown or disabled, or when ``generation``
    (a token's) is not the account's: its password changed, or it was disabled, since."""
    user = (await session.execute(select(User).where(col(User.username) == username))).scalars().first()
    if user is None or user.disabled:
        raise Unauthorized("The account is unknown or disabled.")
    if generation is not None and generation != user.token_generation:
        raise Unauthorized("The access token was revoked (password changed or account disabled); sign in again.")
    return Principal(actor=user.username, role=Role(user.role), unit_code=user.unit_code, unit_id=user.unit_id,
                     kind=PrincipalKind.user)


async def principal_for_key(session: AsyncSession, key: str) -> Principal:
    parts = key.split("_")
    if len(parts) != 3 or not key.startswith(API_KEY_PREFIX):
        raise Unauthorized("The API key is not valid.", headers={"WWW-Authenticate": "ApiKey"})
    found = (await session.execute(select(ApiKey).where(col(ApiKey.prefix) == parts[1]))).scalars().first()
    if found is None or found.revoked_at is not None or not hmac.compare_digest(found.key_hash, _key_hash(key)):
        raise Unauthorized("The API key is not valid or has been revoked.", headers={"WWW-Authenticate": "ApiKey"})
    return Principal(actor=f"api-key:{found.name}", role=Role(found.role), unit_code=found.unit_code,
                     unit_id=found.unit_id, kind=PrincipalKind.api_key)


# ---- login ------------------------------------------------------------------------------------


async def login(db: Database, settings: Settings, username: str, password: str) -> User | None:
    """The user when the password is right; None (and a failure recorded) otherwise.

    After ``login_max_failures`` failures within ``login_window_minutes`` the username is refused
    with 429 until the oldest failure leaves the window, right password or not. Atomic whatever
    the number of workers: under a lock on the username (PostgreSQL: an advisory lock; SQLite:
    the write lock, ``BEGIN IMMEDIATE``) the failures are counted and, below the cap, this attempt
    is recorded as a failure *before* the password is checked; a right password then deletes that
    record. So 50 parallel wrong attempts check exactly 10 passwords.
    """
    key = username[:64]
    now = utcnow()
    window_start = now - dt.timedelta(minutes=settings.login_window_minutes)
    async with db.transaction(write=True) as session:
        if db.dialect == "postgresql":
            await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended("ntm-login:" + key, 0))))
        await session.execute(delete(LoginFailure).where(col(LoginFailure.at) < window_start))
        failures, oldest = (
            await session.execute(
                select(func.count(), func.min(col(LoginFailure.at))).where(
                    col(LoginFailure.username) == key, col(LoginFailure.at) >= window_start
                )
            )
        ).one()
        if failures >= settings.login_max_failures:
            oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
            retry = max(1, int((oldest_at + dt.timedelta(minutes=settings.login_window_minutes) - now)
                               .total_seconds()) + 1)
            raise TooManyRequests(
                f"Too many failed sign-ins for {username!r}; try again in {retry} s.",
                headers={"Retry-After": str(retry)},
            )
        attempt = LoginFailure(username=key, at=now)
        session.add(attempt)
        user = (await session.execute(select(User).where(col(User.username) == username))).scalars().first()
        await session.flush()
        attempt_id = attempt.id
    # the lock is not held while hashing (argon2 in a thread: the event loop keeps serving)
    ok = await asyncio.to_thread(verify_password, password, user.password_hash if user else None)
    if ok and user is not None and not user.disabled:
        async with db.transaction() as session:
            await session.execute(delete(LoginFailure).where(col(LoginFailure.id) == attempt_id))
        return user
    return None


# ---- users and keys ---------------------------------------------------------------------------


async def _check_binding(session: AsyncSession, role: Role, unit_code: str | None) -> AdminUnit | None:
    """The unit a role is bound to: the unit with that code valid today (else the latest one that
    had it), as ``GET /units/{code}`` resolves it; None for an admin."""
    if role == Role.admin:
        if unit_code not in (None, "VN"):
            raise InvalidInput.field("body", "unit_code", "An admin is not bound to a unit.")
        return None
    if unit_code is None:
        raise InvalidInput.field("body", "unit_code", f"A {role.value} must be bound to a unit.")
    unit = await units_service.resolve(session, unit_code)
    level = ROLE_UNIT_LEVEL[role]
    if level is not None and unit.level != level:
        raise InvalidInput.field(
            "body", "unit_code", f"A {role.value} user is bound to a {level}; {unit_code} is a {unit.level}."
        )
    return unit


def user_public(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


def key_public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic.model_validate(key, from_attributes=True)


async def create_user(session: AsyncSession, actor: Principal, data: UserCreate) -> UserPublic:
    """Create an account bound to the unit with ``unit_code`` valid today; audited."""
    if (await session.execute(select(col(User.id)).where(col(User.username) == data.username))).first():
        raise Conflict(f"The username {data.username!r} is taken.")
    unit = await _check_binding(session, data.role, data.unit_code)
    password_hash = await asyncio.to_thread(hash_password, data.password)  # ~0.1 s of CPU: off the event loop
    user = User(
        username=data.username, password_hash=password_hash, role=data.role,
        unit_code=unit.code if unit else None, unit_id=unit.id if unit else None, created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    after = user_public(user)
    await audit.record(session, actor.actor, "create", "user", user.username, None, after)
    return after


async def get_user(session: AsyncSession, username: str, *, for_update: bool = False) -> User:
    stmt = select(User).where(col(User.username) == username)
    if for_update:
        stmt = stmt.with_for_update()
    user = (await session.execute(stmt)).scalars().first()
    if user is None:
        raise NotFound(f"No user is called {username!r}.")
    return user


async def update_user(session: AsyncSession, actor: Principal, username: str, data: UserUpdate) -> UserPublic:
    """Change role, unit, disabled or password; audited with before and after. Administrators
    cannot disable or demote themselves (409), so the service is never left without the account
    that made the change."""
    user = await get_user(session, username, for_update=True)
    if user.username == actor.actor and (data.disabled or (data.role is not None and data.role != user.role)):
        raise Conflict("You cannot disable your own account or change your own role; ask another administrator.")
    before = user_public(user)
    changes = data.model_dump(exclude_unset=True)
    role = Role(changes.get("role") or user.role)
    unit_code = changes["unit_code"] if "unit_code" in changes else user.unit_code
    if "role" in changes or "unit_code" in changes:
        unit = await _check_binding(session, role, unit_code)
        user.role = role
        user.unit_code, user.unit_id = (unit.code, unit.id) if unit else (None, None)
    revoke = bool(changes.get("password")) or (changes.get("disabled") is True and not user.disabled)
    if changes.get("disabled") is not None:
        user.disabled = changes["disabled"]
    if changes.get("password"):
        user.password_hash = await asyncio.to_thread(hash_password, changes["password"])
    if revoke:  # every token issued before answers 401 from the commit on
        user.token_generation = (user.token_generation or 0) + 1
    await session.flush()
    after = user_public(user)
    action = "password" if data.password and before == after else "update"
    await audit.record(session, actor.actor, action, "user", user.username, before, after)
    return after


async def list_users(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[UserPublic], int]:
    total = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    rows = await session.execute(select(User).order_by(col(User.username)).limit(limit).offset(offset))
    return [user_public(u) for u in rows.scalars()], total


async def create_key(session: AsyncSession, actor: Principal, data: ApiKeyCreate) -> ApiKeyCreated:
    """A new key bound to the unit with ``unit_code`` valid today; the answer is the only time the
    key is shown (it is stored hashed). Audited."""
    if (await session.execute(select(col(ApiKey.id)).where(col(ApiKey.name) == data.name))).first():
        raise Conflict(f"An API key is already called {data.name!r}.")
    unit = await _check_binding(session, data.role, data.unit_code)
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
    row = ApiKey(name=data.name, prefix=prefix, key_hash=_key_hash(key), role=data.role,
                 unit_code=unit.code if unit else None, unit_id=unit.id if unit else None, created_at=utcnow())
    session.add(row)
    await session.flush()
    public = key_public(row)
    await audit.record(session, actor.actor, "create", "api_key", str(row.id), None, public)
    return ApiKeyCreated(**public.model_dump(), key=key)


async def list_keys(session: AsyncSession) -> list[ApiKeyPublic]:
    return [key_public(k) for k in (await session.execute(select(ApiKey).order_by(col(ApiKey.id)))).scalars()]


async def get_key_by_name(session: AsyncSession, name: str) -> ApiKey:
    key = (await session.execute(select(ApiKey).where(col(ApiKey.name) == name))).scalars().first()
    if key is None:
        raise NotFound(f"No API key is called {name!r}.")
    return key


async def revoke_key(session: AsyncSession, actor: Principal, key_id: int) -> ApiKeyPublic:
    """Revoke a key (refused with 401 from then on); audited with before and after. Revoking a
    revoked key changes nothing and records nothing."""
    row = (await session.execute(select(ApiKey).where(col(ApiKey.id) == key_id).with_for_update())).scalars().first()
    if row is None:
        raise NotFound(f"No API key has the id {key_id}.")
    before = key_public(row)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
        await audit.record(session, actor.actor, "revoke", "api_key", str(row.id), before, key_public(row))
    return key_public(row)


async def ensure_admin(session: AsyncSession, settings: Settings) -> bool:
    """Create the first administrator from NTM_ADMIN_USERNAME/PASSWORD when missing."""
    if not settings.admin_username or not settings.admin_password:
        return False
    settings.check_admin_password()
    exists = (await session.execute(select(col(User.id)).where(col(User.username) == settings.admin_username))).first()
    if exists:
        return False
    session.add(User(username=settings.admin_username, password_hash=hash_password(settings.admin_password),
                     role=Role.admin, unit_code=None, created_at=utcnow()))
    await session.flush()
    return True

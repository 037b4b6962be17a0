"""Users for tests: made directly in the database (one argon2 hash per run), signed in by token."""

from __future__ import annotations

from functools import lru_cache

from fastapi import FastAPI

from app.auth import service
from app.auth.models import Role, User
from app.core.db import Database
from app.core.errors import NotFound
from app.core.types import utcnow
from app.units import service as units_service

# the signing key of test fixtures, passed explicitly (the service has no key of its own)
TEST_SECRET = "ntm-test-fixture-signing-key-" + "0" * 32
ADMIN = "admin"
PASSWORD = "correct horse battery staple"


@lru_cache
def password_hash() -> str:
    return service.hash_password(PASSWORD)


async def make_user(db: Database, *, username: str, role: Role, unit_code: str | None = None,
                    disabled: bool = False) -> None:
    async with db.transaction() as session:
        # bound as the API binds (the unit valid today, else the latest); a code no unit has binds to
        # nothing, which some tests use for a user with no scope at all
        try:
            unit_id = (await units_service.resolve(session, unit_code)).id if unit_code else None
        except NotFound:
            unit_id = None
        session.add(User(username=username, password_hash=password_hash(), role=role.value, unit_code=unit_code,
                         unit_id=unit_id, disabled=disabled, created_at=utcnow()))


def bearer(app: FastAPI, username: str) -> dict[str, str]:
    token, _ = service.issue_token(app.state.settings, username)
    return {"Authorization": f"Bearer {token}"}

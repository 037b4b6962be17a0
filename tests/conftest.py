"""Test fixtures. Every test that touches the database runs twice: on SQLite and on PostgreSQL.

PostgreSQL comes from ``NTM_TEST_POSTGRES_URL`` (default: postgres@127.0.0.1:5432, trust
auth); each run creates its own databases and drops them at the end. When PostgreSQL
cannot be reached its half is *skipped with the reason printed*, unless
``NTM_TEST_REQUIRE_POSTGRES=1`` (set by .ci/run when PostgreSQL is installed), which
turns that into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete, text

from app.auth.models import Role
from app.core import migrations
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from app.models import metadata
from app.reference import load_reference
from tests.users import ADMIN, TEST_SECRET, bearer, make_user  # noqa: E402

BACKENDS = ["sqlite", "postgresql"]
PG_ADMIN_URL = os.environ.get("NTM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("NTM_TEST_REQUIRE_POSTGRES", "") in ("1", "true", "yes")


def _pg_url(dbname: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


async def _pg_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"
        if REQUIRE_PG:
            pytest.fail(message + " (NTM_TEST_REQUIRE_POSTGRES is set)")
        pytest.skip(message)


@asynccontextmanager
async def fresh_database(backend: str, tmp_dir: Path, *, migrate: bool = True) -> AsyncIterator[Database]:
    """A brand-new, empty database of the given backend (migrated to head unless told not to)."""
    name = f"ntm_test_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_dir / (name + '.db')}"
    else:
        admin = await _pg_admin()
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        url = _pg_url(name)
    db = Database(Settings(database_url=url, env="test", secret_key=TEST_SECRET, db_pool_size=5, db_max_overflow=25))
    try:
        if migrate:
            await migrations.upgrade(db.engine)
        yield db
    finally:
        await db.dispose()
        if backend == "postgresql":
            admin = await _pg_admin()
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
async def database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    async with fresh_database(backend, tmp_path_factory.mktemp(backend)) as db:
        yield db


@pytest.fixture
async def db(database: Database) -> Database:
    """The session's database emptied and reloaded with the built-in reference data and an admin."""
    await reset_database(database)
    return database


async def reset_database(database: Database) -> None:
    """Empty every table and reload the built-in reference data and the administrator."""
    async with database.transaction() as session:
        if database.dialect == "postgresql":  # TRUNCATE: the audit table refuses DELETE
            names = ", ".join(t.name for t in metadata.sorted_tables)
            await session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                await session.execute(delete(table))
        await load_reference(session)
    await make_user(database, username=ADMIN, role=Role.admin)


@pytest.fixture
def app(db: Database) -> FastAPI:
    return create_app(db.settings, database=db)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """A client signed in as the administrator."""
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://test", headers=bearer(app, ADMIN)
    ) as http:
        yield http


@pytest.fixture
async def anon(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """A client with no credentials."""
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        yield http

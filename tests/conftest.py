"""Test fixtures. Every test that touches the database runs twice: on SQLite and on PostgreSQL.

PostgreSQL comes from ``NTM_TEST_POSTGRES_URL`` (default: postgres@127.0.0.1:5432, trust
auth); each run (each pytest-xdist worker, under ``-n 2``) creates its own databases, uniquely
named, and drops them at the end. When PostgreSQL
cannot be reached its half is *skipped with the reason printed*, unless
``NTM_TEST_REQUIRE_POSTGRES=1`` (set by .ci/run when PostgreSQL is installed), which
turns that into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditRecord
from app.auth.models import Role, User
from app.core import migrations
from app.core.aggregate_epochs import EPOCH_TABLE
from app.core.changes import CHANGE_TABLE
from app.core.config import Settings
from app.core.db import Database
from app.core.types import utcnow
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
    """Empty every table and reload the built-in reference data and the administrator.

    The first reset of a database loads them as the service does (``load_reference``,
    ``make_user``) and keeps a copy of the rows (and, on PostgreSQL, of the sequences); every
    later one empties the tables and puts that copy back in one transaction, one multi-row
    INSERT per table, the administrator with a fresh ``created_at``. The end state is the same.

    The previous test's background stores of report aggregates are waited for first: the reset
    empties the epochs, which then count up again, and a store landing after it would carry a
    tag that a later epoch of this test repeats (production never empties the epochs)."""
    await database.settle()
    snapshot = _SNAPSHOTS.get(str(database.engine.url))
    if snapshot is None:
        await _reset_from_scratch(database)
        _SNAPSHOTS[str(database.engine.url)] = await _take_snapshot(database)
        return
    async with database.transaction() as session:
        if database.dialect == "postgresql":
            # the commit of a fixture's reset need not wait for the disk (the tests' own commits do)
            await session.execute(text("SET LOCAL synchronous_commit = off"))
            filled = set(await _filled_tables(session))
            for table in reversed(metadata.sorted_tables):  # children first
                if table.name not in filled:
                    continue
                if table.name == AUDIT_TABLE:  # the audit table refuses DELETE
                    await session.execute(text(f"TRUNCATE {table.name}"))
                else:
                    await session.execute(delete(table))
            if snapshot.sequences:
                await session.execute(text("SELECT " + ", ".join(snapshot.sequences)))
        else:
            await _delete_all_sqlite(session)
        for table in metadata.sorted_tables:  # parents first
            rows = snapshot.rows.get(table.name)
            if rows:
                if table.name == User.__tablename__:
                    rows = [{**row, "created_at": utcnow()} for row in rows]
                await session.execute(insert(table).values(rows))


async def _reset_from_scratch(database: Database) -> None:
    async with database.transaction() as session:
        if database.dialect == "postgresql":  # TRUNCATE: the audit table refuses DELETE
            names = ", ".join(t.name for t in metadata.sorted_tables)
            await session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            await _delete_all_sqlite(session)
        await load_reference(session)
    await make_user(database, username=ADMIN, role=Role.admin)


async def _delete_all_sqlite(session) -> None:
    """Every row of every table, children first. The audit table refuses DELETE (its append-only
    triggers): they are set aside for this transaction and put back as they were."""
    triggers = list((await session.execute(text(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": AUDIT_TABLE})).scalars())
    names = list((await session.execute(text(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": AUDIT_TABLE})).scalars())
    for name in names:
        await session.execute(text(f'DROP TRIGGER "{name}"'))
    for table in reversed(metadata.sorted_tables):
        await session.execute(delete(table))
    for sql in triggers:
        await session.execute(text(sql))


@dataclass(frozen=True)
class _Snapshot:
    rows: dict[str, list[dict[str, Any]]]  # table → its rows after a reset (not the change tokens)
    sequences: list[str]  # PostgreSQL: the setval() calls that put every sequence back


AUDIT_TABLE = AuditRecord.__tablename__
_SNAPSHOTS: dict[str, _Snapshot] = {}  # database URL → what a reset leaves in it


async def _take_snapshot(database: Database) -> _Snapshot:
    rows: dict[str, list[dict[str, Any]]] = {}
    sequences: list[str] = []
    async with database.transaction(write=False) as session:
        for table in metadata.sorted_tables:
            # the change tokens are random, and written by the SQLite triggers as the rows go in; the
            # aggregate epochs are moved by triggers as the rows go in (and their aggregates emptied)
            if table.name not in (CHANGE_TABLE, EPOCH_TABLE):
                rows[table.name] = [dict(row) for row in (await session.execute(select(table))).mappings()]
        if database.dialect == "postgresql":
            found = await session.execute(text(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value FROM pg_sequences"
                " WHERE schemaname = current_schema()"))
            # setval(..., false): as after RESTART IDENTITY, the next value is the first one
            sequences = [f"setval('{name}', {value}, true)" if value is not None else f"setval('{name}', 1, false)"
                         for name, value in found]
    return _Snapshot(rows, sequences)


async def _filled_tables(session: AsyncSession) -> list[str]:
    """PostgreSQL: the tables that have a row, in one round trip."""
    probes = ", ".join(f"CASE WHEN EXISTS (SELECT FROM {t.name}) THEN '{t.name}' END" for t in metadata.sorted_tables)
    found = (await session.execute(text(f"SELECT array_remove(ARRAY[{probes}], NULL)"))).scalar_one()
    return list(found)


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

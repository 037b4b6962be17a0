"""Least privilege on PostgreSQL: migrations as the owner role, the API as a service role that can
change rows but cannot erase or silence the audit trail. (SQLite has no roles: the command says so.)"""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from httpx import ASGITransport, AsyncClient
from typer.testing import CliRunner

from app.auth.models import Role
from app.cli import cli
from app.core import migrations
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from app.ops import roles
from app.reference import load_reference
from tests.conftest import PG_ADMIN_URL, fresh_database
from tests.users import ADMIN, PASSWORD, TEST_SECRET, make_user


def _as(url: str, role: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


def test_roles_command_says_sqlite_has_none(tmp_path, monkeypatch):
    monkeypatch.setenv("NTM_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(cli, ["db", "roles"])
    assert result.exit_code == 2 and "PostgreSQL" in result.output


async def test_service_role_cannot_erase_or_silence_the_audit_trail(backend, tmp_path):
    if backend == "sqlite":
        pytest.skip("roles are PostgreSQL's (the SQLite case: test_roles_command_says_sqlite_has_none)")
    suffix = uuid.uuid4().hex[:8]
    owner, service = f"ntm_owner_{suffix}", f"ntm_app_{suffix}"
    try:
        async with fresh_database(backend, tmp_path, migrate=False) as superuser:
            url = superuser.settings.database_url
            async with superuser.engine.begin() as conn:
                await roles.create_roles(conn, owner=owner, service=service, owner_password=None,
                                         service_password=None)
            owned = Database(Settings(database_url=_as(url, owner), env="test", secret_key=TEST_SECRET,
                                      _env_file=None))
            try:
                await migrations.upgrade(owned.engine)  # DDL as the owner
                async with owned.transaction() as session:
                    await load_reference(session)
                await make_user(owned, username=ADMIN, role=Role.admin)
                async with owned.engine.begin() as conn:
                    await roles.grant(conn, service=service)
            finally:
                await owned.dispose()

            conn = await asyncpg.connect(_as(url.replace("+asyncpg", ""), service))
            try:
                assert await conn.fetchval("SELECT count(*) FROM admin_unit") > 0
                await conn.execute("INSERT INTO audit_record (at, actor, action, entity, key) "
                                   "VALUES (now(), 'x', 'create', 'unit', 'k')")
                for statement in (
                    "TRUNCATE audit_record",
                    "UPDATE audit_record SET actor = 'y'",
                    "DELETE FROM audit_record",
                    "ALTER TABLE audit_record DISABLE TRIGGER ALL",
                    "ALTER TABLE admin_unit ADD COLUMN x int",
                    "DROP TABLE login_failure",
                    "CREATE TABLE mine (id int)",
                    "SET session_replication_role = replica",
                    "TRUNCATE admin_unit",
                    "UPDATE alembic_version SET version_num = 'x'",
                ):
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await conn.execute(statement)
            finally:
                await conn.close()

            # the API works as the service role
            settings = Settings(database_url=_as(url, service), env="test", secret_key=TEST_SECRET, _env_file=None)
            app = create_app(settings)
            try:
                async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
                    assert (await http.get("/readyz")).status_code == 200
                    token = await http.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD})
                    assert token.status_code == 200, token.text
                    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
                    created = await http.post("/api/v1/users", headers=headers, json={
                        "username": "viewer9", "password": "a long passphrase", "role": "viewer", "unit_code": "084"})
                    assert created.status_code == 201, created.text
                    audit = await http.get("/api/v1/audit", headers=headers)
                    assert audit.json()["total"] >= 1
            finally:
                await app.state.db.dispose()
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            for role in (service, owner):
                await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            await admin.close()

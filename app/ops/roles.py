"""PostgreSQL roles for least privilege (``ntm db roles``, ``ntm db grant``).

* the **owner** role owns the schema's objects and runs the migrations (DDL);
* the **service** role, which the API connects as, may only SELECT, INSERT, UPDATE and DELETE
  rows of the tables, and only INSERT and SELECT on the audit trail: no TRUNCATE, no DDL
  (``ALTER TABLE … DISABLE TRIGGER`` needs ownership), no ``session_replication_role`` (a
  superuser setting), so it cannot erase or silence the audit trail.

``roles`` (as a superuser, once) creates both roles, hands the owner the schema objects that
exist, and grants; ``grant`` (as the owner or a superuser, after each migration) grants the
service role its rights on every table and sequence there is, and takes back what it must not
have on the audit trail. Both are idempotent.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

AUDIT_TABLE = "audit_record"
# read-only for the service: what the migrations keep
READ_ONLY_TABLES = ("alembic_version",)
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(ValueError):
    pass


def _name(value: str) -> str:
    if not ROLE_NAME.fullmatch(value):
        raise RoleError(f"{value!r} is not a plain role name (lower-case letters, digits, _)")
    return f'"{value}"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def _ensure_role(conn: AsyncConnection, name: str, password: str | None) -> None:
    exists = (await conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name})).first()
    verb = "ALTER" if exists else "CREATE"
    password_clause = f" PASSWORD {_literal(password)}" if password else ""
    await conn.execute(text(f"{verb} ROLE {_name(name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                            f"NOBYPASSRLS{password_clause}"))


async def create_roles(conn: AsyncConnection, *, owner: str, service: str, owner_password: str | None,
                       service_password: str | None) -> None:
    """As a superuser: both roles, the owner owning the schema's objects, and the grants."""
    if owner == service:
        raise RoleError("the owner and the service roles must differ")
    await _ensure_role(conn, owner, owner_password)
    await _ensure_role(conn, service, service_password)
    database = (await conn.execute(text("SELECT current_database()"))).scalar_one()
    await conn.execute(text(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {_name(owner)}, {_name(service)}'))
    await conn.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {_name(owner)}"))
    await conn.execute(text(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {_name(service)}"))
    # what exists already (migrated earlier by another role) passes to the owner
    for kind, query in (
        ("TABLE", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"),
        ("SEQUENCE", "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"),
    ):
        for (name,) in (await conn.execute(text(query))).all():
            await conn.execute(text(f'ALTER {kind} public."{name}" OWNER TO {_name(owner)}'))
    functions = await conn.execute(text(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.proname LIKE 'ntm\\_%'"))
    for (signature,) in functions.all():
        await conn.execute(text(f"ALTER FUNCTION {signature} OWNER TO {_name(owner)}"))
    # tables the owner creates later (new migrations) are open to the service role's DML
    await conn.execute(text(f"ALTER DEFAULT PRIVILEGES FOR ROLE {_name(owner)} IN SCHEMA public "
                            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {_name(service)}"))
    await conn.execute(text(f"ALTER DEFAULT PRIVILEGES FOR ROLE {_name(owner)} IN SCHEMA public "
                            f"GRANT USAGE, SELECT ON SEQUENCES TO {_name(service)}"))
    await grant(conn, service=service)


async def grant(conn: AsyncConnection, *, service: str) -> None:
    """The service role's rights on every table and sequence that exists (run after migrating)."""
    role = _name(service)
    await conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    await conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
    await conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"))
    await conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    tables = {name for (name,) in (await conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).all()}
    if AUDIT_TABLE in tables:
        await conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {AUDIT_TABLE} FROM {role}"))
    for name in READ_ONLY_TABLES:
        if name in tables:
            await conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {name} FROM {role}"))

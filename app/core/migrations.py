"""Alembic, driven from the application: upgrade, downgrade, and "is the schema at head?".

The Alembic commands run on a connection we pass in (``config.attributes``), so they
work from inside a running event loop (the lifespan, the tests) as well as from the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command

REPO_ROOT = Path(__file__).resolve().parents[2]


def alembic_config() -> Config:
    ini = Path(os.environ.get("NTM_ALEMBIC_INI", REPO_ROOT / "alembic.ini"))
    cfg = Config(str(ini))
    cfg.set_main_option("script_location", str(ini.parent / "alembic"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _run(engine: AsyncEngine, fn, *args) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(fn, *args)


def _with_connection(conn: Connection, action: str, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    getattr(command, action)(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _run(engine, _with_connection, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _run(engine, _with_connection, "downgrade", revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())

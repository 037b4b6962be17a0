"""The schema comes only from Alembic, both ways, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.core import migrations
from app.models import metadata
from tests.conftest import fresh_database

TABLES = {"admin_unit", "unit_lineage", "criteria_set", "criterion", "indicator"}


def _tables(sync_conn) -> set[str]:
    return set(inspect(sync_conn).get_table_names())


async def test_upgrade_downgrade_upgrade(backend, tmp_path):
    async with fresh_database(backend, tmp_path, migrate=False) as db:
        await migrations.upgrade(db.engine)
        async with db.engine.connect() as conn:
            assert TABLES <= await conn.run_sync(_tables)
        assert await migrations.current_revision(db.engine) == migrations.head_revision()

        await migrations.downgrade(db.engine, "base")
        async with db.engine.connect() as conn:
            assert not (TABLES & await conn.run_sync(_tables))
        assert await migrations.current_revision(db.engine) is None

        await migrations.upgrade(db.engine)
        assert await migrations.current_revision(db.engine) == migrations.head_revision()


async def test_models_and_migrations_agree(database):
    def diff(sync_conn):
        context = MigrationContext.configure(
            sync_conn, opts={"compare_type": True, "render_as_batch": sync_conn.dialect.name == "sqlite"}
        )
        return compare_metadata(context, metadata)

    async with database.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == [], f"models differ from migrations; run alembic revision --autogenerate: {differences}"

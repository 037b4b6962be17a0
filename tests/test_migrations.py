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


async def test_assessment_kind_keeps_every_assessment_and_its_criteria(backend, tmp_path):
    """The kind migration rebuilds the assessment table on SQLite, where dropping the old table
    cascades to the criteria: they must all come back, the change triggers too, and the old
    assessments are of kind `chuan`."""
    from sqlalchemy import text

    from app.core import changes

    async with fresh_database(backend, tmp_path, migrate=False) as db:
        await migrations.upgrade(db.engine, "17c3e5a7b9d1")
        async with db.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO criteria_set (code, name, decision, first_year, last_year, criteria_count, bands, "
                "kind, applies_to, issuer) VALUES ('S', 'S', 'd', 2020, 2025, 2, '[]', 'chuan', 'commune', 'national')"))
            await conn.execute(text(
                "INSERT INTO admin_unit (code, name, name_search, level, kind, valid_from) "
                "VALUES ('99999', 'Xã Thử', 'xa thu', 'commune', 'xa', '2000-01-01')"))
            uid = (await conn.execute(text("SELECT id FROM admin_unit WHERE code = '99999'"))).scalar_one()
            for year in (2020, 2021):
                await conn.execute(text(
                    "INSERT INTO assessment (unit_id, commune_code, year, criteria_set, criteria_count, met_count, "
                    "met_bits, status, version, created_at, updated_at) VALUES "
                    f"({uid}, '99999', {year}, 'S', 2, 1, 1, 'draft', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
            await conn.execute(text(
                "INSERT INTO assessment_criterion (assessment_id, number, met, note) "
                "SELECT id, n.n, n.n = 1, 'ghi chú' FROM assessment, (SELECT 1 AS n UNION ALL SELECT 2) n"))
        await migrations.upgrade(db.engine)
        async with db.engine.connect() as conn:
            kinds = (await conn.execute(text("SELECT year, kind FROM assessment ORDER BY year"))).all()
            criteria = (await conn.execute(text("SELECT count(*) FROM assessment_criterion"))).scalar_one()
            watched = set((await conn.execute(text(changes.watched_in_database_sql(db.dialect)))).scalars())
        assert [tuple(r) for r in kinds] == [(2020, "chuan"), (2021, "chuan")]
        assert criteria == 4
        assert changes.expected_in_database(db.dialect) <= watched

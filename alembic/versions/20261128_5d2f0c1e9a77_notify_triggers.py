"""PostgreSQL: notify `ntm_data_changed` at commit of any change, for the report caches

Every worker caches computed reports (app/core/cache.py) and listens on this channel;
statement-level triggers make every writer announce its changes, the API or not.
Nothing to do on SQLite, where `PRAGMA data_version` shows other connections' commits.
A table added later that feeds the reports needs the same trigger.

Revision ID: 5d2f0c1e9a77
Revises: c78aa26af774
Create Date: 2026-11-28 02:05:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5d2f0c1e9a77"
down_revision: str | None = "c78aa26af774"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "admin_unit", "unit_lineage", "criteria_set", "criterion", "indicator",
    "assessment", "assessment_criterion", "recognition", "target",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION ntm_notify_change() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('ntm_data_changed', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER ntm_notify_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ntm_notify_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS ntm_notify_{table} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ntm_notify_change()")

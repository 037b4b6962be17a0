"""Users and API keys are bound to a unit (code plus validity), not to a code

Scope follows the unit: a commune user bound to the new 02824 (from 2025-07-01) has no hold
on the old 02824 (until 2025-06-30). Existing bindings are resolved as ``GET /units/{code}``
resolves a code today: the unit valid today, else the latest unit that had the code.

Revision ID: 11b0d5e7a2c4
Revises: 7b1f4c2d9e30
Create Date: 2026-11-30 11:00:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "11b0d5e7a2c4"
down_revision: str | None = "7b1f4c2d9e30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("app_user", "api_key")

BACKFILL = """
UPDATE {table} SET unit_id = (
    SELECT u.id FROM admin_unit u
    WHERE u.code = {table}.unit_code
    ORDER BY CASE WHEN (u.valid_from IS NULL OR u.valid_from <= CURRENT_DATE)
                   AND (u.valid_to IS NULL OR u.valid_to >= CURRENT_DATE) THEN 0 ELSE 1 END,
             CASE WHEN u.valid_from IS NULL THEN 0 ELSE 1 END DESC, u.valid_from DESC
    LIMIT 1)
WHERE unit_code IS NOT NULL
"""


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(f"fk_{table}_unit_id_admin_unit", "admin_unit", ["unit_id"], ["id"])
        op.execute(BACKFILL.format(table=table))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_unit_id_admin_unit", type_="foreignkey")
            batch.drop_column("unit_id")

"""PostgreSQL: change triggers stay silent in transactions that announce their own scope

A transaction that declares which units' figures it changes (``app.core.db.scope_writes``)
sets ``ntm.scoped`` locally and sends ``scope:<codes>`` itself, so that report caches stale
only those units; the statement triggers then must not announce a global change. Every
other writer (plain SQL, imports, unit and user changes) still notifies as before.

Revision ID: 7b1f4c2d9e30
Revises: e8d93044a55c
Create Date: 2026-11-28 18:30:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "7b1f4c2d9e30"
down_revision: str | None = "e8d93044a55c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE OR REPLACE FUNCTION ntm_notify_change() RETURNS trigger AS $$
BEGIN
    {guard}PERFORM pg_notify('ntm_data_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
GUARD = """IF current_setting('ntm.scoped', true) = 'on' THEN
        RETURN NULL;
    END IF;
    """


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION.format(guard=GUARD))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION.format(guard=""))

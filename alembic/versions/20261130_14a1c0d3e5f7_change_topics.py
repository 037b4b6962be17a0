"""Changes announced per topic, only for the tables that feed it; SQLite change tokens

Cached reports are staled only by changes of the tables they are computed from, and the
remembered accounts only by changes of users and API keys (app/core/changes.py holds the one
list). PostgreSQL already notifies per table (5d2f0c1e9a77, a9c03d3ec746); the triggers are
made again from the list. SQLite gets ``ntm_change`` (a token per topic) and row triggers that
rewrite the topic's token at each change, instead of ``PRAGMA data_version`` (every commit).
A table added to the list later is watched by the migration that creates it
(``changes.watch(op, table)``); this one watches the listed tables that exist at this point.

Revision ID: 14a1c0d3e5f7
Revises: 16b7d8e9f0a1
Create Date: 2026-11-30 11:10:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core import changes

revision: str = "14a1c0d3e5f7"
down_revision: str | None = "16b7d8e9f0a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _existing() -> list[str]:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    return [table for table in changes.WATCHED if table in present]


def upgrade() -> None:
    op.create_table(
        changes.CHANGE_TABLE,
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", name=op.f(f"pk_{changes.CHANGE_TABLE}")),
    )
    for table in _existing():
        changes.watch(op, table)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # PostgreSQL's triggers belong to the earlier migrations
        for table in _existing():
            changes.unwatch(op, table)
    op.drop_table(changes.CHANGE_TABLE)

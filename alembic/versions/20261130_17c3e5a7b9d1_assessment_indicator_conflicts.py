"""assessment.indicator_conflicts: the criteria whose given `met` disagrees with their indicators

A bit set like ``met_bits`` (bit n−1 for criterion n), written by the assessment use cases, so that
the flags report reads one narrow column instead of judging indicator values per commune.

Revision ID: 17c3e5a7b9d1
Revises: 14a1c0d3e5f7
Create Date: 2026-11-30 12:30:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "17c3e5a7b9d1"
down_revision: str | None = "14a1c0d3e5f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("indicator_conflicts", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_column("indicator_conflicts")

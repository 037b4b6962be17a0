"""standards by level: revocable recognitions at every level, managed criteria sets, unit attributes by year

Revision ID: 15a1c0d2e3f4
Revises: 7b1f4c2d9e30
Create Date: 2026-11-30 10:50:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "15a1c0d2e3f4"
down_revision: str | None = "7b1f4c2d9e30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recognition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("revocation_decision_no", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("recognition", schema=None) as batch_op:
        batch_op.drop_column("version")
        batch_op.drop_column("revocation_decision_no")
        batch_op.drop_column("revoked_on")

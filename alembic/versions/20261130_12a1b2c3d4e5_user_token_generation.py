"""Users: a token generation, embedded in every access token and moved by a password change or a
disable, so that the tokens issued before answer 401

Revision ID: 12a1b2c3d4e5
Revises: 11b0d5e7a2c4
Create Date: 2026-11-30 11:00:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "12a1b2c3d4e5"
down_revision: str | None = "11b0d5e7a2c4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("token_generation")

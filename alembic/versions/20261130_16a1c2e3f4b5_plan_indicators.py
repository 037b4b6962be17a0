"""plan indicators: a list per unit and year, its indicators as rows

Revision ID: 16a1c2e3f4b5
Revises: 15a1c0d2e3f4
Create Date: 2026-11-30 11:00:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "16a1c2e3f4b5"
down_revision: str | None = "15a1c0d2e3f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_indicator_list",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["admin_unit.id"], name=op.f("fk_plan_indicator_list_unit_id_admin_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_indicator_list")),
        sa.UniqueConstraint("unit_id", "year", name=op.f("uq_plan_indicator_list_unit_id_year")),
    )
    op.create_table(
        "plan_indicator",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("plan", sa.String(length=40), nullable=False),
        sa.Column("actual", sa.String(length=40), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("ntm", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(["list_id"], ["plan_indicator_list.id"],
                                name=op.f("fk_plan_indicator_list_id_plan_indicator_list"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_indicator")),
        sa.UniqueConstraint("list_id", "code", name=op.f("uq_plan_indicator_list_id_code")),
    )


def downgrade() -> None:
    op.drop_table("plan_indicator")
    op.drop_table("plan_indicator_list")

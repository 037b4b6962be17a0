"""standards by level: revocable recognitions at every level, managed criteria sets, unit attributes by year

Revision ID: 15a1c0d2e3f4
Revises: 12a1b2c3d4e5
Create Date: 2026-11-30 10:50:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "15a1c0d2e3f4"
down_revision: str | None = "12a1b2c3d4e5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("criteria_set", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="chuan", nullable=False))
        batch_op.add_column(sa.Column("applies_to", sa.String(length=16), server_default="commune", nullable=False))
        batch_op.add_column(sa.Column("issuer", sa.String(length=8), server_default="national", nullable=False))
        batch_op.add_column(sa.Column("base_set", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_criteria_set_kind_issuer", ["kind", "issuer"], unique=False)
    with op.batch_alter_table("recognition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("revocation_decision_no", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


    op.create_table(
        "unit_attribute",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("commune_group", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=48), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["admin_unit.id"], name=op.f("fk_unit_attribute_unit_id_admin_unit"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_attribute")),
        sa.UniqueConstraint("unit_id", "year", name=op.f("uq_unit_attribute_unit_id_year")),
    )


def downgrade() -> None:
    op.drop_table("unit_attribute")
    with op.batch_alter_table("recognition", schema=None) as batch_op:
        batch_op.drop_column("version")
        batch_op.drop_column("revocation_decision_no")
        batch_op.drop_column("revoked_on")
    with op.batch_alter_table("criteria_set", schema=None) as batch_op:
        batch_op.drop_index("ix_criteria_set_kind_issuer")
        batch_op.drop_column("base_set")
        batch_op.drop_column("issuer")
        batch_op.drop_column("applies_to")
        batch_op.drop_column("kind")

"""Stored per-parent yearly report aggregates, validated by epochs that triggers move (issue 14)

``report_agg_epoch`` (a counter per parent code, ``'*'`` for units and lineage) and
``report_agg`` (per parent, kind, approved_only and year: the aggregate rows of its communes,
tagged with the epochs they were computed at). The triggers are in ``app/core/aggregate_epochs.py``.
Neither table is watched by ``app/core/changes.py``. Both start empty: the first reads fill them
(or ``ntm reports rebuild``).

Revision ID: 19e5a7b9c1d3
Revises: 18d4f6a8c0e2
Create Date: 2026-11-30 15:05:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core import aggregate_epochs

revision: str = "19e5a7b9c1d3"
down_revision: str | None = "18d4f6a8c0e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_agg_epoch",
        sa.Column("parent_code", sa.String(length=8), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("parent_code", name=op.f("pk_report_agg_epoch")),
    )
    op.create_table(
        "report_agg",
        sa.Column("parent_code", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("approved_only", sa.Boolean(), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("global_epoch", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("parent_code", "kind", "approved_only", "year", name=op.f("pk_report_agg")),
    )
    aggregate_epochs.install(op, retag=False)  # as first made; 22c4e6a8b0d2 re-tags


def downgrade() -> None:
    aggregate_epochs.uninstall(op)
    op.drop_table("report_agg")
    op.drop_table("report_agg_epoch")

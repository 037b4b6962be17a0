"""Stored report aggregates: a write of one year and kind keeps the other years' and kinds' rows valid

The epoch triggers of ``assessment`` (``app/core/aggregate_epochs.py``) now re-tag, as they raise
a parent's epoch, that parent's stored rows which the change cannot move (a year before the
assessment's, or another kind) with the new epoch. Before, every write staled its parent's rows of
every year, and the next trend recomputed them all. No data changes: the tables keep their rows.

Revision ID: 22c4e6a8b0d2
Revises: 21b3d5f7a9c1
Create Date: 2026-12-01 09:00:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from app.core import aggregate_epochs

revision: str = "22c4e6a8b0d2"
down_revision: str | None = "21b3d5f7a9c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    aggregate_epochs.install(op, retag=True)


def downgrade() -> None:
    aggregate_epochs.install(op, retag=False)

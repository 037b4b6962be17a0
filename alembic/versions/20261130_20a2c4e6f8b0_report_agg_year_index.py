"""Stored report aggregates: an index by (kind, approved_only, year), and room for HOT updates of the epochs (issue 14)

A national or province read takes every stored row of a kind and year (~770 of ~16,000):
without this index PostgreSQL scanned the whole table (EXPLAIN ANALYZE on the national dataset:
6.1 ms → 1.4 ms for the national read, with the epoch table compact).

Every write updates its parent's ``report_agg_epoch`` row. On PostgreSQL, a fill factor of 50
leaves room on each page for the new row versions (HOT updates, pruned in place), and the table
is vacuumed after a fixed number of dead rows rather than a fifth of a table this small: the
bench's epoch table had grown to 4.7 MB (701 live rows, 5,467 dead) on a server with
autovacuum off, and reading it took 2.4 of the national read's 6 ms.

Revision ID: 20a2c4e6f8b0
Revises: 19e5a7b9c1d3
Create Date: 2026-11-30 17:00:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "20a2c4e6f8b0"
down_revision: str | None = "19e5a7b9c1d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_report_agg_kind_approved_only_year", "report_agg", ["kind", "approved_only", "year"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE report_agg_epoch SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, "
                   "autovacuum_vacuum_threshold = 1000)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE report_agg_epoch RESET (fillfactor, autovacuum_vacuum_scale_factor, "
                   "autovacuum_vacuum_threshold)")
    op.drop_index("ix_report_agg_kind_approved_only_year", table_name="report_agg")

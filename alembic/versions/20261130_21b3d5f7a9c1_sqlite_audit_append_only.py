"""SQLite: the audit trail refuses UPDATE and DELETE, as on PostgreSQL

PostgreSQL has refused changes to ``audit_record`` since the audit trail was created (a trigger,
whoever connects). The embedded database now does the same: ``sqlite3 ntm.db "DELETE FROM
audit_record"`` fails with "audit records are append-only".

Revision ID: 21b3d5f7a9c1
Revises: 20a2c4e6f8b0
Create Date: 2026-11-30 18:00:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "21b3d5f7a9c1"
down_revision: str | None = "20a2c4e6f8b0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OPS = ("UPDATE", "DELETE")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for what in OPS:
            op.execute(f"CREATE TRIGGER ntm_audit_append_only_{what.lower()} BEFORE {what} ON audit_record "
                       f"BEGIN SELECT RAISE(ABORT, 'audit records are append-only ({what} refused)'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for what in OPS:
            op.execute(f"DROP TRIGGER IF EXISTS ntm_audit_append_only_{what.lower()}")

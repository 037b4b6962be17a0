"""assessment.kind: one assessment per commune, year and kind (contract v1.1 "Assessments by kind")

Every existing assessment is of kind ``chuan`` (the commune standard). The unique constraint
(unit_id, year) becomes (unit_id, kind, year), which is also the index the reports descend for
"the latest assessment of this kind up to Y".

On SQLite the constraint change rebuilds the table (batch mode): dropping the old table would
cascade-delete every criterion row (foreign keys are on, and cannot be turned off inside the
migration's transaction), so the criteria are kept aside and put back, and the change triggers
that went with the old table are re-created. A downgrade deletes the assessments of other kinds
than `chuan` (the old schema cannot hold them): export them first (`ntm export … --kind K`).

Revision ID: 18d4f6a8c0e2
Revises: 17c3e5a7b9d1
Create Date: 2026-11-30 14:20:00+00:00
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from app.core import changes

revision: str = "18d4f6a8c0e2"
down_revision: str | None = "17c3e5a7b9d1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuilding(alter: Callable[[], None]) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMP TABLE kept_assessment_criterion AS SELECT * FROM assessment_criterion")
    alter()
    if sqlite:
        op.execute("DELETE FROM assessment_criterion")  # none left by the cascade; to be sure
        op.execute("INSERT INTO assessment_criterion SELECT k.* FROM kept_assessment_criterion k "
                   "WHERE k.assessment_id IN (SELECT id FROM assessment)")
        op.execute("DROP TABLE kept_assessment_criterion")
        changes.watch(op, "assessment")


def upgrade() -> None:
    def alter() -> None:
        with op.batch_alter_table("assessment", schema=None) as batch_op:
            batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="chuan"))
            batch_op.drop_constraint("uq_assessment_unit_id_year", type_="unique")
            batch_op.create_unique_constraint("uq_assessment_unit_id_kind_year", ["unit_id", "kind", "year"])

    _rebuilding(alter)


def downgrade() -> None:
    op.execute("DELETE FROM assessment WHERE kind <> 'chuan'")

    def alter() -> None:
        with op.batch_alter_table("assessment", schema=None) as batch_op:
            batch_op.drop_constraint("uq_assessment_unit_id_kind_year", type_="unique")
            batch_op.create_unique_constraint("uq_assessment_unit_id_year", ["unit_id", "year"])
            batch_op.drop_column("kind")

    _rebuilding(alter)

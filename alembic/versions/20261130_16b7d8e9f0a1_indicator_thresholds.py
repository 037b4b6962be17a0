"""indicator thresholds as data: op and thresholds on criteria indicators

Also gives the built-in 2016-2020 indicators whose official values are known (1980/QĐ-TTg, northern
midland and mountain region) their op and thresholds, as a fresh database gets them.

Revision ID: 16b7d8e9f0a1
Revises: 16a1c2e3f4b5
Create Date: 2026-11-30 11:10:00+00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "16b7d8e9f0a1"
down_revision: str | None = "16a1c2e3f4b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TDMNPB = "trung_du_mien_nui_phia_bac"
KNOWN = {
    "10.1": [{"value": 36, "region": TDMNPB, "commune_group": None, "first_year": 2020, "last_year": None,
              "source": "1980/QĐ-TTg"}],
    "15.1": [{"value": 85, "region": TDMNPB, "commune_group": None, "first_year": None, "last_year": None,
              "source": "1980/QĐ-TTg"}],
}


def upgrade() -> None:
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.add_column(sa.Column("op", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("thresholds", sa.JSON(), nullable=True))
    for code, thresholds in KNOWN.items():
        op.execute(
            sa.text(
                "UPDATE indicator SET op = '>=', thresholds = :t WHERE code = :code AND op IS NULL AND criterion_id IN "
                "(SELECT id FROM criterion WHERE set_code = '2016-2020')"
            ).bindparams(sa.bindparam("t", thresholds, type_=sa.JSON()), code=code)
        )


def downgrade() -> None:
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.drop_column("thresholds")
        batch_op.drop_column("op")

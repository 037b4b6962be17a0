"""Stored per-parent yearly aggregates of the reports, and the epochs that validate them.

``report_agg_epoch`` holds, per parent code (the unit a commune's ``parent_code`` names), a
counter that database triggers raise in the writer's own transaction whenever an assessment or a
recognition of one of its communes changes; the row ``'*'`` moves with every change of the units
or the lineage (``app/core/aggregate_epochs.py``). ``report_agg`` keeps, per parent, kind,
``approved_only`` and year, the aggregate rows of that parent's communes (what
``queries.aggregate_years`` consumes), tagged with the epochs read *before* they were computed:
a row is used only while both epochs still hold those values. Neither table feeds the reports'
cache topics (``app/core/changes.py``): writing them stales nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String
from sqlmodel import Field, SQLModel

EVERYTHING = "*"  # the epoch row that moves with every change of the units or the lineage


class ReportAggEpoch(SQLModel, table=True):
    __tablename__ = "report_agg_epoch"

    parent_code: str = Field(sa_column=Column(String(8), primary_key=True))
    epoch: int = Field(sa_column=Column(BigInteger, nullable=False))


class ReportAgg(SQLModel, table=True):
    __tablename__ = "report_agg"
    # a province's or the country's read takes every parent's row of a kind and year
    __table_args__ = (Index("ix_report_agg_kind_approved_only_year", "kind", "approved_only", "year"),)

    parent_code: str = Field(sa_column=Column(String(8), primary_key=True))
    kind: str = Field(sa_column=Column(String(16), primary_key=True))
    approved_only: bool = Field(sa_column=Column(Boolean, primary_key=True))
    year: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    epoch: int = Field(sa_column=Column(BigInteger, nullable=False))
    global_epoch: int = Field(sa_column=Column(BigInteger, nullable=False))
    # [met_count, criteria_count, criteria_set, listed_code, rec, communes, gain, gain_communes, [bit sums…]]
    body: Any = Field(sa_column=Column(JSON, nullable=False))

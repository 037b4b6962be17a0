"""The dashboard's commune table, indicator-conflict list and one commune's assessment.

Everything here reads what the API's own endpoints answer, through the same service functions:
``/units/{code}/flags`` (count, flags), the assessments (status, ``indicator_conflicts``) and
the recognitions (levels valid in the year). No figure is computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments import service as assessments_service
from app.assessments.models import Assessment
from app.assessments.schemas import AssessmentPublic
from app.core.text import vi_sort_key
from app.criteria import service as criteria_service
from app.criteria.models import AssessmentKind
from app.recognitions import service as recognitions_service
from app.reports import queries
from app.reports.models import FlagName, FlagRow
from app.units.models import AdminUnit
from app.web.messages import FLAG_LABELS_VI, STATUS_LABELS_VI, commune_level

# the dashboard shows the commune standard (chuan), as the summaries and flags do by default
KIND = AssessmentKind.chuan.value
# a request for the country lists at most this many communes (sorted first); a province or district all
TABLE_LIMIT = 500
_CHUNK = 5000  # ids per IN list (PostgreSQL takes at most 32,767 bind parameters)


SortKey = Literal["code", "name", "count"]
SORT_KEYS: tuple[SortKey, ...] = ("code", "name", "count")


@dataclass(frozen=True)
class CommuneLine:
    """One row of the commune table."""

    code: str
    name: str
    met_count: int | None
    criteria_count: int | None  # of the set the commune's status was assessed against
    status_year: int | None  # the year of that assessment (earlier than the year shown: carried forward)
    status: str | None  # draft / submitted / approved
    flags: list[str]
    recognition: str | None
    conflicts: list[int]  # criteria whose declared `met` disagrees with their indicators

    @property
    def status_label(self) -> str:
        if self.status is None:
            return "Chưa có đánh giá"
        return STATUS_LABELS_VI.get(self.status, self.status)

    @property
    def flag_labels(self) -> list[str]:
        return [FLAG_LABELS_VI.get(f, f) for f in self.flags]


def _bits(value: int) -> list[int]:
    return [n for n in range(1, value.bit_length() + 1) if value >> (n - 1) & 1]


async def commune_lines(session: AsyncSession, unit: AdminUnit, year: int, flags: Sequence[FlagRow]) -> list[CommuneLine]:
    """The flag rows of the unit, each with its status's assessment (workflow status, conflicting
    criteria) and the recognition the commune holds in the year; in code order."""
    rows = {r.code: r for r in await queries.commune_rows(session, unit, year, kind=KIND)}
    wanted = {(r.id, r.status.year) for r in rows.values() if r.status is not None}
    ids = sorted({unit_id for unit_id, _ in wanted})
    found: dict[int, tuple[str | None, int]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        result = await session.execute(
            select(col(Assessment.unit_id), col(Assessment.year), col(Assessment.status),
                   col(Assessment.indicator_conflicts))
            .where(col(Assessment.unit_id).in_(chunk), col(Assessment.kind) == KIND, col(Assessment.year) <= year)
        )
        for unit_id, y, status, bits in result.all():
            if (unit_id, y) in wanted:
                found[unit_id] = (str(status), bits or 0)
    levels: dict[tuple[int, int], list[str]] = {}
    all_ids = sorted(r.id for r in rows.values())
    for start in range(0, len(all_ids), _CHUNK):
        levels.update(await recognitions_service.valid_levels(session, all_ids[start:start + _CHUNK],
                                                              range(year, year + 1)))
    out: list[CommuneLine] = []
    for flag in flags:
        row = rows.get(flag.commune_code)
        held: tuple[str | None, int] = found.get(row.id, (None, 0)) if row else (None, 0)
        out.append(CommuneLine(
            code=flag.commune_code,
            name=flag.name,
            met_count=flag.met_count,
            criteria_count=row.status.criteria_count if row and row.status else None,
            status_year=row.status.year if row and row.status else None,
            status=held[0],
            flags=[f.value for f in flag.flags],
            recognition=commune_level(levels.get((row.id, year), [])) if row else None,
            conflicts=_bits(held[1]) if FlagName.indicator_conflict in flag.flags else [],
        ))
    return out


def name_ranks(lines: Sequence[CommuneLine]) -> dict[str, int]:
    """Each commune's place in Vietnamese alphabetical order (``vi_sort_key``; equal names share
    one), for the page's script to sort by: one ordering, the server's."""
    keys = sorted({vi_sort_key(line.name)[:2] for line in lines})
    place = {key: rank for rank, key in enumerate(keys)}
    return {line.code: place[vi_sort_key(line.name)[:2]] for line in lines}


def sort_lines(lines: Sequence[CommuneLine], key: SortKey, descending: bool) -> list[CommuneLine]:
    """Stable: equal keys keep the code order, in either direction; communes without a count last."""
    by_code = sorted(lines, key=lambda line: line.code)
    if key == "code":
        return list(reversed(by_code)) if descending else by_code
    if key == "name":
        return sorted(by_code, key=lambda line: vi_sort_key(line.name)[:2], reverse=descending)
    counted = [line for line in by_code if line.met_count is not None]
    uncounted = [line for line in by_code if line.met_count is None]
    # sorted(reverse=True) keeps equal elements in their original order: ties stay in code order
    return sorted(counted, key=lambda line: line.met_count or 0, reverse=descending) + uncounted


@dataclass(frozen=True)
class CommuneView:
    """One commune's assessment as the dashboard shows it: the status for the year (its own, or
    the latest earlier one), with the criteria's names."""

    commune: AdminUnit
    year: int
    assessment: AssessmentPublic | None
    criteria_names: dict[int, str]

    @property
    def carried_forward(self) -> bool:
        return self.assessment is not None and self.assessment.year < self.year


async def commune_view(session: AsyncSession, commune: AdminUnit, year: int) -> CommuneView:
    """The commune's (chuan) assessment for ``year``, else its latest earlier one (as the figures count it)."""
    row = (await session.execute(
        select(Assessment)
        .where(col(Assessment.unit_id) == commune.id, col(Assessment.kind) == KIND, col(Assessment.year) <= year)
        .order_by(col(Assessment.year).desc())
        .limit(1)
    )).scalars().first()
    if row is None:
        return CommuneView(commune, year, None, {})
    public = await assessments_service.publish(session, row, commune)
    detail = await criteria_service.detail(session, await criteria_service.get_set(session, row.criteria_set))
    return CommuneView(commune, year, public, {c.number: c.name for c in detail.criteria})

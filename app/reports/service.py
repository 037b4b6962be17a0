"""Summaries, flags and trend: SQL aggregates (``queries``) through the pure rules (``rules``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidInput
from app.criteria import service as criteria_service
from app.criteria.models import AssessmentKind, CriteriaSet
from app.recognitions import service as recognitions_service
from app.reports import queries, rules, stored
from app.reports.models import (
    FlagName,
    FlagRow,
    Summary,
    TrendBasis,
    TrendRow,
)
from app.reports.walk import DistrictCount, district_counts, walk
from app.targets import service as targets_service
from app.targets.models import Target
from app.targets.service import Plan
from app.units.models import AdminUnit, UnitKind, UnitLevel
from app.units.service import year_end


def _bands(cset: CriteriaSet) -> list[rules.BandEdge]:
    return [rules.BandEdge(label=b["label"], min=b["min"], max=b["max"]) for b in cset.bands]


def _rule_target(target: Target | Plan | None) -> rules.Target | None:
    if target is None:
        return None
    return rules.Target(
        average_criteria=target.average_criteria,
        min_additional_criteria=target.min_additional_criteria,
    )


def _row(
    unit: AdminUnit, year: int, cset: CriteriaSet, agg: queries.Aggregate, target: Target | Plan | None, *,
    districts: DistrictCount | None, levels: list[str], bands: list[rules.BandEdge],
) -> dict[str, Any]:
    """A ``SummaryRow``'s fields, as plain values: validated once, into the row or the answer that holds them.
    ``bands``: the set's (``_bands(cset)``, made once for all the rows of an answer)."""
    figures = rules.summarize(agg.status_groups(), bands=bands, target=_rule_target(target), gained=agg.gained)
    eligible = figures.commune_count + len(agg.missing)
    recognized = rules.recognition_figures(agg.recognized, below_standard=agg.recognized_below, eligible=eligible)
    return {
        "unit_code": unit.code,
        "unit_name": unit.name,
        "year": year,
        "criteria_set": cset.code,
        "eligible_count": eligible,
        "recognized_communes": recognized.recognized_communes,
        "recognized_percent": recognized.recognized_percent,
        "recognized_below_standard_count": recognized.recognized_below_standard_count,
        "recognized_districts": districts.recognized if districts is not None and districts.districts else None,
        "unit_recognitions": levels,
        # plain dicts: validated into Coverage by pydantic-core (faster than a model_construct each)
        "criteria_coverage": [{"number": n, "communes_met": agg.coverage[n - 1] if n <= len(agg.coverage) else 0}
                              for n in range(1, cset.criteria_count + 1)],
        "carried_forward": sorted(agg.carried_forward),
        "missing": sorted(agg.missing),
        **figures.__dict__,
    }


def _merge(parts: list[queries.Aggregate]) -> queries.Aggregate:
    total = queries.Aggregate()
    for part in parts:
        total.add(part)
    return total


def _planned(kind: str) -> bool:
    """Targets (the plan) are set for the commune standard: figures of another kind carry no target."""
    return kind == AssessmentKind.chuan


async def summary(session: AsyncSession, unit: AdminUnit, year: int, *, approved_only: bool = False,
                  kind: str = AssessmentKind.chuan) -> Summary:
    """The unit's figures for the year over the assessments of ``kind``, with a row per direct child unit."""
    cset = await criteria_service.set_that_applies(session, year, unit=unit, kind=kind, location="query")
    below = await walk(session, unit, [year])
    kids = below.children[year]
    by_year = await stored.aggregate_years(
        session, unit, below, coverage={year: (cset.code, cset.criteria_count)}, by_child=bool(kids),
        approved_only=approved_only, kind=kind,
    )
    by_child = by_year.get(year, {})
    kids = [k for k in kids if k.code in by_child]
    ids: list[int] = [unit.id, *(k.id for k in kids)]  # type: ignore[list-item]
    targets = await targets_service.plans_for(session, ids, year) if _planned(kind) else {}
    # the levels of the unit, its children and the districts below it: one query
    levels = await recognitions_service.valid_levels(session, [*ids, *below.district_ids()], range(year, year + 1),
                                                     above_communes=True)
    whole, below_child = district_counts(below, levels).get(year, (None, {}))
    bands = _bands(cset)
    children = [
        _row(k, year, cset, by_child[k.code], targets.get(k.id), districts=below_child.get(k.code),  # type: ignore[arg-type]
             levels=levels.get((k.id, year), []), bands=bands)  # type: ignore[arg-type]
        for k in kids
    ]
    row = _row(unit, year, cset, _merge(list(by_child.values())), targets.get(unit.id),  # type: ignore[arg-type]
               districts=whole, levels=levels.get((unit.id, year), []), bands=bands)  # type: ignore[arg-type]
    return Summary.model_validate({**row, "children": children})


async def flags(
    session: AsyncSession, unit: AdminUnit, year: int, *, only: FlagName | None = None, approved_only: bool = False,
    kind: str = AssessmentKind.chuan,
) -> list[FlagRow]:
    cset = await criteria_service.set_that_applies(session, year, unit=unit, kind=kind, location="query")
    target = await targets_service.get(session, unit, year) if _planned(kind) else None
    standard = set(target.standard_communes) if target else set()
    commune_targets = target.commune_targets if target else {}
    bands = _bands(cset)
    out: list[FlagRow] = []
    for row in await queries.commune_rows(session, unit, year, approved_only=approved_only, kind=kind):
        result = rules.commune_flags(
            year=year,
            status=row.status,
            previous=row.previous,
            set_criteria_count=cset.criteria_count,
            standard_target=row.code in standard,
            commune_target=commune_targets.get(row.code),
            recognized=row.recognized,
        )
        if only is not None and only.value not in result.flags:
            continue
        out.append(
            FlagRow(
                commune_code=row.code,
                name=row.name,
                met_count=row.status.met_count if row.status else None,
                target_met_count=commune_targets.get(row.code),
                band=rules.band_of(row.status.met_count, bands) if row.status else None,
                flags=[FlagName(f) for f in result.flags],
                missing_criteria=result.missing_criteria,
                lost_criteria=result.lost_criteria,
            )
        )
    return out


def _check_span(first: int, last: int) -> None:
    if last < first:
        raise InvalidInput.field("query", "to", f"`to` ({last}) is before `from` ({first}).")
    if last - first > 50:
        raise InvalidInput.field("query", "to", "A trend spans at most 51 years.")


async def trend(
    session: AsyncSession, unit: AdminUnit, *, first: int | None, last: int | None, approved_only: bool = False,
    basis: TrendBasis = TrendBasis.historic, on: dt.date | None = None, kind: str = AssessmentKind.chuan,
) -> list[TrendRow]:
    """One summary row per year: over the units below the unit in each year (``historic``), or over
    the territory of the unit as it is ``on`` (default today) followed back through lineage (``current``);
    over the assessments of ``kind``."""
    if basis == TrendBasis.current:
        return await _trend_current(session, unit, first=first, last=last, approved_only=approved_only, on=on,
                                    kind=kind)
    if first is None or last is None:
        span = await queries.data_years(session, unit, kind=kind)
        if span is None and (first is None or last is None):
            return []
        if span is not None:
            first = span[0] if first is None else first
            last = span[1] if last is None else last
    assert first is not None and last is not None
    _check_span(first, last)
    years = [y for y in range(first, last + 1) if unit.valid_on(year_end(y))]  # no district rows after 2025
    in_force = await criteria_service.sets_that_apply(session, unit, years, kind=kind)
    if not in_force:
        return []
    lo, hi = min(in_force), max(in_force)
    targets = await targets_service.targets_by_year(session, unit, lo, hi) if _planned(kind) else {}
    below = await walk(session, unit, range(lo, hi + 1))
    by_year = await stored.aggregate_years(
        session, unit, below, coverage={y: (c.code, c.criteria_count) for y, c in in_force.items()},
        approved_only=approved_only, kind=kind,
    )
    levels = await recognitions_service.valid_levels(session, [unit.id, *below.district_ids()],  # type: ignore[list-item]
                                                     range(lo, hi + 1), above_communes=True)
    districts = district_counts(below, levels)
    return [
        TrendRow.model_validate(_row(unit, year, cset, _merge(list(by_year.get(year, {}).values())), targets.get(year),
                                     districts=districts.get(year, (None, {}))[0],
                                     levels=levels.get((unit.id, year), []), bands=_bands(cset)))  # type: ignore[arg-type]
        for year, cset in sorted(in_force.items())
    ]


async def _trend_current(
    session: AsyncSession, unit: AdminUnit, *, first: int | None, last: int | None, approved_only: bool,
    on: dt.date | None, kind: str,
) -> list[TrendRow]:
    """Contract v1.1 "Series on today's boundaries": for each year, the communes valid then whose
    successors on ``on`` lie in the unit (all of them; or some: ``approximate``). District counts are
    not followed through lineage: ``recognized_districts`` is null on this basis."""
    today = dt.date.today()
    day = on or (today if unit.valid_on(today) or unit.valid_to is None else unit.valid_to)
    territory = {u.id for u in await queries.communes_under_on(session, unit, day) if u.id is not None}
    successors, seen = await queries.lineage_closure(session, territory)
    units = await queries.units_by_id(session, seen | territory)
    alive = {uid for uid, u in units.items() if u.valid_on(day)}
    candidates = sorted(uid for uid, u in units.items() if u.level == UnitLevel.commune.value)
    members = rules.territory_members(candidates, successors, alive, territory)
    ids = sorted(m.unit_id for m in members)
    approximate = [units[m.unit_id] for m in members if m.approximate]
    if first is None or last is None:
        span = await queries.data_years_of(session, ids, kind=kind)
        if span is None:
            return []
        first = span[0] if first is None else first
        last = span[1] if last is None else last
    _check_span(first, last)
    in_force = await criteria_service.sets_that_apply(session, unit, range(first, last + 1), kind=kind)
    if not in_force:
        return []
    lo, hi = min(in_force), max(in_force)
    targets = await targets_service.targets_by_year(session, unit, lo, hi) if _planned(kind) else {}
    by_year = await queries.aggregate_years(
        session, unit, lo, hi, coverage={y: (c.code, c.criteria_count) for y, c in in_force.items()},
        approved_only=approved_only, ids=ids, kind=kind,
    )
    levels = await recognitions_service.valid_levels(session, [unit.id], range(lo, hi + 1))  # type: ignore[list-item]
    out: list[TrendRow] = []
    for year, cset in sorted(in_force.items()):
        row = _row(unit, year, cset, _merge(list(by_year.get(year, {}).values())), targets.get(year),
                   districts=None, levels=levels.get((unit.id, year), []), bands=_bands(cset))  # type: ignore[arg-type]
        split = sorted(u.code for u in approximate if u.kind == UnitKind.xa.value and u.valid_on(year_end(year)))
        out.append(TrendRow.model_validate({**row, "basis": TrendBasis.current, "approximate": bool(split),
                                            "approximate_communes": split}))
    return out

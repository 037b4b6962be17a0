"""The NTM calculation rules, as pure functions over plain values (no I/O, no framework).

Contract rules 3–10 (``shared/docs/api-contract.md``). Averages are exact fractions until
the moment they are published; published figures are rounded *half up* to one decimal, as
offices do by hand (``16,05`` → ``16,1``), never with binary floats or banker's rounding.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import NamedTuple

from app.assessments.rules import standard_reached
from app.recognitions import rules as recognition_rules

EXACT_PLACES = Decimal("0.000001")


def _to_fraction(value: Fraction | Decimal | int) -> Fraction:
    return value if isinstance(value, Fraction) else Fraction(value)


def round_half_up(value: Fraction | Decimal | int, places: int = 1) -> Decimal:
    """Round half up (away from zero) to ``places`` decimals, exactly: 15.25 → 15.3, 15.45 → 15.5.

    In integers: with ``value × 10^places = n/d`` (d > 0), ``floor(|n|/d + 1/2)`` is
    ``(2|n| + d) // 2d`` (a national summary rounds a few hundred figures: no Fraction each)."""
    x = _to_fraction(value)
    n, d = x.numerator * 10**places, x.denominator
    rounded = (2 * abs(n) + d) // (2 * d)
    # from text: exact at any size (Decimal arithmetic would round to the context's 28 digits)
    return Decimal(f"{rounded if n >= 0 else -rounded}E-{places}")


def exact_decimal(value: Fraction) -> Decimal:
    """A fraction as a decimal with six places (for ``average_exact``; ≥ 4 decimals by contract)."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(EXACT_PLACES, ROUND_HALF_UP)


def average(total: int, count: int) -> Fraction | None:
    """Total criteria met over the communes counted (rule 3); None when no commune counts."""
    return Fraction(total, count) if count else None


def official_average(total: int, count: int) -> Decimal | None:
    avg = average(total, count)
    return None if avg is None else round_half_up(avg)


def target_met(official: Decimal | None, target: Decimal) -> bool:
    """Rule 4: offices compare the *published* (rounded) average with the plan."""
    return official is not None and official >= target


def gap(official: Decimal | None, target: Decimal) -> Decimal | None:
    """Rule 4: how far the published average is below target, never negative."""
    if official is None:
        return None
    return round_half_up(max(Fraction(0), Fraction(target) - Fraction(official)))


def percent_of_target(total: int, count: int, target: Decimal) -> Decimal | None:
    """Rule 4: exact average ÷ target × 100, rounded half up (139/9 against 15.5 → 99.6)."""
    avg = average(total, count)
    if avg is None or target <= 0:
        return None
    return round_half_up(avg / Fraction(target) * 100)


def additional_needed(total: int, count: int, target: Decimal, max_total: int) -> int | None:
    """Rule 5: the smallest k ≥ 0 with round_half_up((total + k) / count) ≥ target.

    ``max_total`` is the most the communes could meet (each commune's criteria count);
    None when even that falls short, or when no commune counts.
    """
    if count <= 0:
        return None
    goal = Fraction(target)
    # (total + k)/count rounds to ≥ goal  ⇔  (total + k)/count ≥ goal − 1/20 (rounded figures step by 1/10)
    threshold = (goal - Fraction(1, 20)) * count - total
    k = max(0, math.ceil(threshold))
    # guard the closed form against any target that is not on the 0.1 grid
    while k > 0 and round_half_up(Fraction(total + k - 1, count)) >= target:
        k -= 1
    while round_half_up(Fraction(total + k, count)) < target:
        k += 1
        if total + k > max_total:
            return None
    return k if total + k <= max_total else None


@dataclass(frozen=True)
class BandEdge:
    label: str
    min: int
    max: int


def band_of(met_count: int, bands: Sequence[BandEdge]) -> str | None:
    for band in bands:
        if band.min <= met_count <= band.max:
            return band.label
    return None


def band_counts(histogram: Mapping[int, int], bands: Sequence[BandEdge]) -> dict[str, int]:
    """Rule 6: communes per band, from a histogram {met_count: communes}; every band present."""
    counts = {band.label: 0 for band in bands}
    for met_count, communes in histogram.items():
        label = band_of(met_count, bands)
        if label is not None:
            counts[label] += communes
    return counts


# ---- per-commune flags (rule 10) ------------------------------------------------------------


@dataclass(frozen=True)
class CommuneStatus:
    """A commune's standing in a year: its own assessment or the latest earlier one."""

    year: int
    criteria_set: str
    criteria_count: int
    met: frozenset[int]
    indicator_conflict: bool = False  # a given `met` disagrees with the criterion's indicators (v1.2)

    @property
    def met_count(self) -> int:
        return len(self.met)

    @property
    def standard_reached(self) -> bool:
        return standard_reached(self.met_count, self.criteria_count)

    def not_met(self) -> list[int]:
        return [n for n in range(1, self.criteria_count + 1) if n not in self.met]


@dataclass(frozen=True)
class CommuneFlags:
    flags: list[str]
    missing_criteria: list[int] = field(default_factory=list)
    lost_criteria: list[int] = field(default_factory=list)


def commune_flags(
    *,
    year: int,
    status: CommuneStatus | None,
    previous: CommuneStatus | None,
    set_criteria_count: int,
    standard_target: bool,
    commune_target: int | None,
    recognized: bool,
) -> CommuneFlags:
    """Rule 10 for one commune in ``year``.

    ``previous`` is its status in year − 1. Regression compares criteria only within one
    criteria set: a re-assessment against a new set renumbers the criteria and is not a loss.
    """
    flags: list[str] = []
    missing_criteria: list[int] = []
    lost: list[int] = []
    reached = status is not None and status.standard_reached
    if standard_target:
        flags.append("standard_target")
    if reached:
        flags.append("standard_reached")
    if standard_target and not reached:
        flags.append("at_risk")
        missing_criteria = status.not_met() if status else list(range(1, set_criteria_count + 1))
    if status is not None and previous is not None and previous.criteria_set == status.criteria_set:
        lost = sorted(previous.met - status.met)
        if lost:
            flags.append("regressed")
    if commune_target is not None and (status is None or status.met_count < commune_target):
        flags.append("behind_plan")
    if recognized and status is not None and not reached:
        flags.append("recognized_below_standard")
    if status is not None and status.year < year:
        flags.append("carried_forward")
    if status is None:
        flags.append("missing")
    if status is not None and status.indicator_conflict:
        flags.append("indicator_conflict")
    return CommuneFlags(flags=flags, missing_criteria=missing_criteria, lost_criteria=lost)


# ---- a unit's summary (rules 3–9) -----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    average_criteria: Decimal
    min_additional_criteria: int | None = None


class StatusGroup(NamedTuple):
    """Communes sharing a (met_count, criteria_count): the aggregate SQL returns one per group
    (a tuple: a national summary makes ~700 of them)."""

    met_count: int
    criteria_count: int
    communes: int


@dataclass(frozen=True)
class SummaryFigures:
    commune_count: int
    total_criteria_met: int
    average_exact: Decimal | None
    average: Decimal | None
    target_average: Decimal | None
    target_met: bool | None
    gap: Decimal | None
    percent_of_target: Decimal | None
    additional_criteria_needed: int | None
    bands: dict[str, int]
    standard_communes_count: int
    additional_criteria_gained: int | None
    min_additional_criteria: int | None
    min_additional_criteria_met: bool | None


def summarize(
    groups: Iterable[StatusGroup],
    *,
    bands: Sequence[BandEdge],
    target: Target | None,
    gained: int | None,
) -> SummaryFigures:
    """Rules 3–9 from the grouped statuses of a unit's communes.

    ``gained`` is rule 9's total in Y − total in Y−1 over the same communes (None when
    no commune has a status in both years).
    """
    count = total = max_total = standard = 0
    histogram: dict[int, int] = {}
    for met_count, criteria_count, communes in groups:
        count += communes
        total += met_count * communes
        max_total += criteria_count * communes
        histogram[met_count] = histogram.get(met_count, 0) + communes
        if standard_reached(met_count, criteria_count):
            standard += communes
    exact = average(total, count)
    official = None if exact is None else round_half_up(exact)
    goal: Decimal | None = None
    reached: bool | None = None
    shortfall: Decimal | None = None
    percent: Decimal | None = None
    needed: int | None = None
    minimum: int | None = None
    if target is not None:
        goal = target.average_criteria
        reached = target_met(official, goal)
        shortfall = gap(official, goal)
        percent = percent_of_target(total, count, goal)
        needed = additional_needed(total, count, goal, max_total)
        minimum = target.min_additional_criteria
    return SummaryFigures(
        commune_count=count,
        total_criteria_met=total,
        average_exact=None if exact is None else exact_decimal(exact),
        average=official,
        bands=band_counts(histogram, bands),
        standard_communes_count=standard,
        additional_criteria_gained=gained,
        target_average=goal,
        target_met=reached,
        gap=shortfall,
        percent_of_target=percent,
        additional_criteria_needed=needed,
        min_additional_criteria=minimum,
        min_additional_criteria_met=None if minimum is None or gained is None else gained >= minimum,
    )


# ---- recognised figures (contract v1.1, "Recognised figures in summaries") ------------------


@dataclass(frozen=True)
class RecognitionFigures:
    recognized_communes: dict[str, int]
    recognized_percent: Decimal | None
    recognized_below_standard_count: int


def recognized_percent(recognized: int, eligible: int) -> Decimal | None:
    """Recognised communes over *all* eligible communes (missing ones too: "6.084/7.669 xã") × 100,
    half up to one decimal; None when the unit has no eligible commune."""
    if eligible <= 0:
        return None
    return round_half_up(Fraction(recognized, eligible) * 100)


def recognition_figures(masks: Mapping[int, int], *, below_standard: int, eligible: int) -> RecognitionFigures:
    """``masks``: eligible communes by the bit set of their valid recognition levels (0: none)."""
    counts = recognition_rules.cumulative_from_bits(dict(masks))
    return RecognitionFigures(
        recognized_communes=counts,
        recognized_percent=recognized_percent(counts["chuan"], eligible),
        recognized_below_standard_count=below_standard,
    )


# ---- series on today's boundaries (contract v1.1, trend?basis=current) ----------------------


def lineage_terminals(start: int, successors: Mapping[int, Iterable[int]], alive: set[int]) -> set[int]:
    """The units valid on the day (``alive``) that ``start`` became, following lineage forward."""
    out: set[int] = set()
    pending, seen = [start], {start}
    while pending:
        uid = pending.pop()
        if uid in alive:
            out.add(uid)
            continue
        for nxt in successors.get(uid, ()):
            if nxt not in seen:
                seen.add(nxt)
                pending.append(nxt)
    return out


@dataclass(frozen=True)
class TerritoryMember:
    """A unit of the past that lies in today's territory: wholly, or (a split) only partly."""

    unit_id: int
    approximate: bool


def territory_members(
    candidates: Iterable[int], successors: Mapping[int, Iterable[int]], alive: set[int], territory: set[int]
) -> list[TerritoryMember]:
    """The candidates whose successors on the day lie in ``territory``: a unit counts when every one of
    them does, and counts as ``approximate`` when only some do."""
    out: list[TerritoryMember] = []
    for uid in candidates:
        terminals = lineage_terminals(uid, successors, alive)
        inside = terminals & territory
        if inside:
            out.append(TerritoryMember(unit_id=uid, approximate=len(inside) < len(terminals)))
    return out

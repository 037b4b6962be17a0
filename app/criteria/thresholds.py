"""Indicator thresholds as data (contract v1.2, "Indicators with numeric thresholds"), pure.

An indicator carries ``op`` (``>=``, ``<=``, ``=``, or ``bool`` for yes/no indicators) and a list
of thresholds, each ``{value, region, commune_group, first_year, last_year}``. The threshold for
a commune in year Y is the **most specific that matches** among those whose years include Y:
one naming the commune's group (51/2025/QĐ-TTg sets values by commune group 1–3) beats one
naming its region (318/QĐ-TTg and 1980/QĐ-TTg by region), which beats one naming neither. None
matches → the indicator is not judged. Within one level of specificity the one that began most
recently wins (a value set for 2027 over one for 2022–), then the first listed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any


class Op(StrEnum):
    at_least = ">="
    at_most = "<="
    equal = "="
    boolean = "bool"


@dataclass(frozen=True)
class Threshold:
    value: float | int | bool
    region: str | None = None
    commune_group: int | None = None
    first_year: int | None = None
    last_year: int | None = None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Threshold:
        return cls(value=data["value"], region=data.get("region"), commune_group=data.get("commune_group"),
                   first_year=data.get("first_year"), last_year=data.get("last_year"))

    def covers(self, year: int) -> bool:
        return (self.first_year is None or self.first_year <= year) and (self.last_year is None or year <= self.last_year)

    def matches(self, region: str | None, commune_group: int | None) -> bool:
        return ((self.commune_group is None or self.commune_group == commune_group)
                and (self.region is None or self.region == region))

    @property
    def specificity(self) -> int:
        """Commune group counts more than region, region more than neither."""
        return (2 if self.commune_group is not None else 0) + (1 if self.region is not None else 0)


def select(thresholds: Sequence[Threshold], *, year: int, region: str | None, commune_group: int | None) -> Threshold | None:
    """The threshold that applies to a commune of this region and group in the year; None: not judged."""
    best: Threshold | None = None
    best_key: tuple[int, float] | None = None
    for t in thresholds:
        if not (t.covers(year) and t.matches(region, commune_group)):
            continue
        key = (t.specificity, t.first_year if t.first_year is not None else -math.inf)
        if best_key is None or key > best_key:
            best, best_key = t, key
    return best


def is_number(value: Any) -> bool:
    """A finite JSON number (booleans are not numbers here). An integer past a double's range
    (``10**400``) is not one: no JSON reader takes it as a number, and ``math.isfinite`` refuses it."""
    if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def meets(op: Op | str, value: Any, threshold: Threshold) -> bool | None:
    """Whether a value meets the threshold; None when the value cannot be judged (wrong kind)."""
    if op == Op.boolean:
        if not isinstance(value, bool):
            return None
        return value == bool(threshold.value)
    if not is_number(value) or not is_number(threshold.value):
        return None
    v, t = Fraction(value), Fraction(threshold.value)
    if op == Op.at_least:
        return v >= t
    if op == Op.at_most:
        return v <= t
    return v == t


def problems(op: Op | str | None, thresholds: Sequence[Threshold]) -> list[tuple[int | None, str]]:
    """What is wrong with an indicator's thresholds, as (index of the threshold or None, message):
    thresholds need an ``op``; a ``bool`` indicator's values are booleans and a compared one's
    finite numbers; a threshold's years run forward; and no two thresholds of one indicator could
    both be "the most specific that matches" for some commune and year (same region, same commune
    group, same first year, overlapping years) — the choice between them would be arbitrary."""
    out: list[tuple[int | None, str]] = []
    if thresholds and op is None:
        out.append((None, "thresholds are given but `op` is not: say how a value is compared (>=, <=, =, bool)"))
        return out
    for i, t in enumerate(thresholds):
        if op == Op.boolean and not isinstance(t.value, bool):
            out.append((i, f"a `bool` indicator's threshold is true or false, not {t.value!r}"))
        elif op not in (None, Op.boolean) and not is_number(t.value):
            out.append((i, f"an indicator compared with {op} needs a finite number, not {t.value!r}"))
        if t.first_year is not None and t.last_year is not None and t.last_year < t.first_year:
            out.append((i, f"last_year {t.last_year} is before first_year {t.first_year}"))
    for i, a in enumerate(thresholds):
        for j in range(i):
            b = thresholds[j]
            same_place = (a.region, a.commune_group, a.first_year) == (b.region, b.commune_group, b.first_year)
            if same_place and _years_overlap(a, b):
                out.append((i, f"threshold {i} and threshold {j} apply to the same communes in the same years: "
                               "say which by region, commune group or years"))
    return out


def _years_overlap(a: Threshold, b: Threshold) -> bool:
    lo = max(a.first_year if a.first_year is not None else -math.inf, b.first_year if b.first_year is not None else -math.inf)
    hi = min(a.last_year if a.last_year is not None else math.inf, b.last_year if b.last_year is not None else math.inf)
    return lo <= hi

"""Aggregates of one indicator over communes, pure: count, meeting, min, max, mean (half up, 2 decimals)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from app.criteria.thresholds import is_number
from app.reports.rules import round_half_up


def exact(value: int | float | Decimal) -> Fraction:
    """The number as written (``41.5`` → 83/2), not the binary float's expansion."""
    return Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)


@dataclass(frozen=True)
class Aggregate:
    communes_with_value: int
    communes_meeting: int
    communes_judged: int
    min: Decimal | None
    max: Decimal | None
    mean: Decimal | None


def aggregate(values: Iterable[tuple[Any, bool | None]]) -> Aggregate:
    """``values``: each commune's value (None: no value) and whether it meets its threshold (None: not judged).
    Booleans count as values but have no min, max or mean."""
    with_value = meeting = judged = 0
    numbers: list[Fraction] = []
    for value, met in values:
        if value is None:
            continue
        with_value += 1
        if met is not None:
            judged += 1
            meeting += met
        if is_number(value):
            numbers.append(exact(value))
    if not numbers:
        return Aggregate(with_value, meeting, judged, None, None, None)
    return Aggregate(
        communes_with_value=with_value, communes_meeting=meeting, communes_judged=judged,
        min=Decimal(min(numbers).numerator) / Decimal(min(numbers).denominator),
        max=Decimal(max(numbers).numerator) / Decimal(max(numbers).denominator),
        mean=round_half_up(sum(numbers, Fraction(0)) / len(numbers), 2),
    )

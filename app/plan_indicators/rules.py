"""Plan-indicator rules, pure (no I/O): achievement, percent of plan, the summary's counts,
and the small checks a list must pass. Contract v1.2, "Plan indicators".

**Achieved**: ``higher`` → actual ≥ plan; ``lower`` → actual ≤ plan; ``equal`` → actual = plan;
no actual → pending. ``percent_of_plan`` = actual / plan × 100, half up to one decimal, exactly
(``Fraction``/``Decimal``, never binary floats); ``None`` when the plan is 0. For the item linked
to the NTM average the *exact* average is used, as the summary's ``percent_of_target`` does
(139/9 against 15.5 → 99.6, while the published 15.4 would give 99.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction

from app.core.text import decimal_text
from app.reports.rules import round_half_up

PLACES = Decimal("0.000001")  # figures are kept to six decimal places
INERT_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection: a cell must not start a formula


class Direction(StrEnum):
    higher = "higher"  # at least the plan (income, schools at national standard, …)
    lower = "lower"  # type: ignore[assignment]  # mypy takes this member for a redefinition of str.lower; at most the plan (poverty rate, …)
    equal = "equal"  # exactly the plan


class NtmLink(StrEnum):
    average = "average"  # the unit's published average criteria per commune
    standard_communes = "standard_communes"  # communes named in the target that reached the standard
    recognized_communes = "recognized_communes"  # communes holding a valid recognition (chuẩn or above)


def achieved(direction: Direction | str, plan: Decimal, actual: Decimal | Fraction | None) -> bool | None:
    """True/False, or None (pending) when there is no actual yet."""
    if actual is None:
        return None
    a, p = Fraction(actual), Fraction(plan)
    if direction == Direction.higher:
        return a >= p
    if direction == Direction.lower:
        return a <= p
    return a == p


def percent_of_plan(actual: Decimal | Fraction | None, plan: Decimal) -> Decimal | None:
    """actual / plan × 100, half up to one decimal; None without an actual or with a plan of 0."""
    if actual is None or plan == 0:
        return None
    return round_half_up(Fraction(actual) / Fraction(plan) * 100, 1)


def figure(value: float | int | Decimal) -> Decimal:
    """A finite JSON number as the exact decimal it was written as (``3.5`` → ``Decimal('3.5')``,
    not the binary float's expansion), kept to six decimal places (half up)."""
    number = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    if not number.is_finite():
        raise ValueError("must be a finite number")
    rounded = number.quantize(PLACES, ROUND_HALF_UP)
    return rounded.normalize() if rounded != 0 else Decimal(0)


def parse_number(text: str) -> Decimal | None:
    """A number typed in a spreadsheet cell (``core.text.decimal_text``: ``3,5`` or ``3.5``,
    ``45.000.000``, ``1.234,5``, ``45,000,000``, spaces and a trailing ``%`` ignored), kept to six
    decimal places. None: not a number."""
    value = decimal_text(text)
    if value is None:
        return None
    try:
        return figure(value)
    except (InvalidOperation, ValueError):
        return None


def inert(value: object) -> object:
    """A value for an exported cell: text that a spreadsheet would read as a formula (it starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading ``'``; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(INERT_PREFIXES):
        return "'" + value
    return value


def uninert(value: str) -> str:
    """Undo ``inert`` on re-import: ``'=x`` → ``=x`` (what the export wrote is what the list held)."""
    if value.startswith("'") and value[1:].startswith(INERT_PREFIXES):
        return value[1:]
    return value


def duplicates(codes: Iterable[str]) -> list[int]:
    """Positions of codes already seen earlier in the list (codes compare case-insensitively)."""
    seen: set[str] = set()
    out: list[int] = []
    for i, code in enumerate(codes):
        key = code.casefold()
        if key in seen:
            out.append(i)
        seen.add(key)
    return out


@dataclass(frozen=True)
class NtmFigures:
    """The unit's NTM figures of the year that linked items take as their actual (None: not known)."""

    average: Decimal | None = None  # published, one decimal: what achievement compares
    average_exact: Fraction | None = None  # what percent_of_plan uses
    standard_communes: int | None = None
    recognized_communes: int | None = None

    def actual(self, link: NtmLink | str) -> tuple[Decimal | None, Fraction | Decimal | None]:
        """(actual as published, the exact value behind it) for a link."""
        if link == NtmLink.average:
            return self.average, self.average_exact
        count = self.standard_communes if link == NtmLink.standard_communes else self.recognized_communes
        return (None, None) if count is None else (Decimal(count), Decimal(count))


@dataclass(frozen=True)
class Line:
    """One indicator as judged: ``actual`` (published) decides achievement, ``exact`` the percent."""

    code: str
    name: str
    source: str
    direction: str
    plan: Decimal
    actual: Decimal | None
    exact: Fraction | Decimal | None = None

    @property
    def achieved(self) -> bool | None:
        return achieved(self.direction, self.plan, self.actual)

    @property
    def percent_of_plan(self) -> Decimal | None:
        return percent_of_plan(self.exact if self.exact is not None else self.actual, self.plan)


def judge(
    *, code: str, name: str, source: str, direction: str, plan: Decimal, actual: Decimal | None,
    ntm: NtmLink | str | None, figures: NtmFigures,
) -> Line:
    """An item with its actual: the stored one, or for an NTM-linked item the live figure."""
    if ntm:
        live, exact = figures.actual(ntm)
        return Line(code, name, source, direction, plan, live, exact)
    return Line(code, name, source, direction, plan, actual, actual)


@dataclass
class SourceCount:
    total: int = 0
    achieved: int = 0


@dataclass
class Summary:
    total: int = 0
    achieved: int = 0
    not_achieved: int = 0
    pending: int = 0
    by_source: dict[str, SourceCount] = field(default_factory=dict)
    not_achieved_items: list[Line] = field(default_factory=list)


def summarize(lines: Sequence[Line]) -> Summary:
    """Counts over the list (total = achieved + not_achieved + pending), per source, and the misses
    in list order."""
    out = Summary(total=len(lines))
    for line in lines:
        per = out.by_source.setdefault(line.source, SourceCount())
        per.total += 1
        verdict = line.achieved
        if verdict is None:
            out.pending += 1
        elif verdict:
            out.achieved += 1
            per.achieved += 1
        else:
            out.not_achieved += 1
            out.not_achieved_items.append(line)
    out.by_source = dict(sorted(out.by_source.items()))
    return out

"""The plan-indicator rules, pure and property-tested (no database)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.plan_indicators import rules
from app.plan_indicators.rules import Direction, Line, NtmFigures

pytestmark = pytest.mark.pure

figures = st.decimals(min_value=-10**12, max_value=10**12, places=6, allow_nan=False, allow_infinity=False)
directions = st.sampled_from(list(Direction))


@given(plan=figures, actual=figures)
def test_higher_and_lower_are_mirror_images(plan, actual):
    assert rules.achieved(Direction.higher, plan, actual) == (actual >= plan)
    assert rules.achieved(Direction.lower, plan, actual) == (actual <= plan)
    assert rules.achieved(Direction.equal, plan, actual) == (actual == plan)
    # meeting the plan exactly is achieved whichever way it is judged
    assert all(rules.achieved(d, plan, plan) for d in Direction)


@given(direction=directions, plan=figures)
def test_no_actual_is_pending(direction, plan):
    assert rules.achieved(direction, plan, None) is None


@given(plan=figures.filter(lambda p: p != 0), actual=figures)
def test_percent_of_plan_is_half_up_of_the_exact_ratio(plan, actual):
    got = rules.percent_of_plan(actual, plan)
    exact = Fraction(actual) / Fraction(plan) * 100
    assert got is not None and got == got.quantize(Decimal("0.1"))
    # half up (away from zero): |exact| − 0.05 < |got| ≤ |exact| + 0.05, and the sign is kept
    assert abs(exact) - Fraction(1, 20) < abs(Fraction(got)) <= abs(exact) + Fraction(1, 20)
    assert got == 0 or (got > 0) == (exact > 0)


def test_percent_of_plan_examples():
    assert rules.percent_of_plan(Fraction(139, 9), Decimal("15.5")) == Decimal("99.6")  # the article's 99,6 %
    assert rules.percent_of_plan(Decimal("15.4"), Decimal("15.5")) == Decimal("99.4")  # not what offices print
    assert rules.percent_of_plan(Decimal(1), Decimal(2)) == Decimal("50.0")
    assert rules.percent_of_plan(Decimal("0.1995"), Decimal("0.2")) == Decimal("99.8")  # 99.75 → 99.8, half up
    assert rules.percent_of_plan(Decimal(5), Decimal(0)) is None
    assert rules.percent_of_plan(None, Decimal("3.5")) is None


@given(st.lists(st.tuples(st.sampled_from(["hdnd", "tinh", "xa"]), directions, figures, st.none() | figures),
                max_size=40))
def test_summary_counts_add_up(items):
    lines = [Line(code=f"C{i}", name="n", source=s, direction=d, plan=p, actual=a, exact=a)
             for i, (s, d, p, a) in enumerate(items)]
    out = rules.summarize(lines)
    assert out.total == len(lines) == out.achieved + out.not_achieved + out.pending
    assert sum(v.total for v in out.by_source.values()) == out.total
    assert sum(v.achieved for v in out.by_source.values()) == out.achieved
    assert all(v.achieved <= v.total for v in out.by_source.values())
    assert [m.code for m in out.not_achieved_items] == [line.code for line in lines if line.achieved is False]
    assert list(out.by_source) == sorted(out.by_source)


def test_ntm_average_is_judged_on_the_published_figure_and_measured_on_the_exact_one():
    figs = NtmFigures(average=Decimal("15.4"), average_exact=Fraction(139, 9), standard_communes=0)
    line = rules.judge(code="N", name="n", source="hdnd", direction="higher", plan=Decimal("15.5"), actual=None,
                       ntm="average", figures=figs)
    assert (line.actual, line.achieved, line.percent_of_plan) == (Decimal("15.4"), False, Decimal("99.6"))
    # 16.05 published as 16.1 reaches a 16.1 plan, as the summary's target_met says
    figs = NtmFigures(average=Decimal("16.1"), average_exact=Fraction(1605, 100))
    line = rules.judge(code="N", name="n", source="hdnd", direction="higher", plan=Decimal("16.1"), actual=None,
                       ntm="average", figures=figs)
    assert line.achieved is True and line.percent_of_plan == Decimal("99.7")
    line = rules.judge(code="S", name="n", source="hdnd", direction="higher", plan=Decimal(1), actual=Decimal(5),
                       ntm="standard_communes", figures=NtmFigures())
    assert line.actual is None and line.achieved is None  # the stored actual never counts for a linked item


@given(st.lists(st.text(alphabet="abAB", min_size=1, max_size=2), max_size=12))
def test_duplicates_are_the_later_repeats(codes):
    repeats = rules.duplicates(codes)
    firsts = {}
    for i, c in enumerate(codes):
        firsts.setdefault(c.casefold(), i)
    assert repeats == [i for i, c in enumerate(codes) if firsts[c.casefold()] != i]


@given(st.text(max_size=20))
def test_inert_cells_never_start_a_formula_and_round_trip(text):
    cell = rules.inert(text)
    assert isinstance(cell, str) and not cell.startswith(rules.INERT_PREFIXES)
    assert rules.uninert(cell) == text or (text.startswith("'") and text[1:].startswith(rules.INERT_PREFIXES))


def test_inert_leaves_numbers_alone():
    assert rules.inert(-3.5) == -3.5 and rules.inert("-3") == "'-3" and rules.inert("=SUM(A1)") == "'=SUM(A1)"


@pytest.mark.parametrize(("text", "value"), [
    ("3,5", Decimal("3.5")), ("3.5", Decimal("3.5")), ("45.000.000", Decimal(45000000)),
    ("1.234,5", Decimal("1234.5")), ("45,000,000", Decimal(45000000)), ("1,234.5", Decimal("1234.5")),
    ("3,5 %", Decimal("3.5")), ("-2", Decimal(-2)), (" 7 ", Decimal(7)), ("", None), ("abc", None),
    ("1e5", None), ("NaN", None), ("3,5,6", None),
])
def test_parse_number(text, value):
    assert rules.parse_number(text) == value


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_figure_keeps_what_was_written(value):
    got = rules.figure(value)
    assert abs(Fraction(got) - Fraction(repr(value))) <= Fraction(1, 2_000_000)
    if round(value, 6) == value and abs(value) < 1e9:
        assert got == Decimal(repr(value))

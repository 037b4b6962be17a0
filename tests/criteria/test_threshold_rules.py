"""Threshold selection (contract v1.2): most specific wins, years bound; pure, property-tested."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.criteria.thresholds import Op, Threshold, meets, select

pytestmark = pytest.mark.pure

REGIONS = ["trung_du_mien_nui_phia_bac", "dong_bang_song_hong", "tay_nguyen"]
years = st.integers(min_value=2010, max_value=2035)
thresholds = st.builds(
    Threshold,
    value=st.integers(min_value=0, max_value=100),
    region=st.none() | st.sampled_from(REGIONS),
    commune_group=st.none() | st.integers(min_value=1, max_value=3),
    first_year=st.none() | years,
    last_year=st.none() | years,
)


def _level(t: Threshold) -> int:
    return t.specificity


@given(st.lists(thresholds, max_size=8), years, st.none() | st.sampled_from(REGIONS),
       st.none() | st.integers(min_value=1, max_value=3))
def test_the_most_specific_matching_threshold_in_force_wins(items, year, region, group):
    chosen = select(items, year=year, region=region, commune_group=group)
    candidates = [t for t in items if t.covers(year) and t.matches(region, group)]
    if not candidates:
        assert chosen is None  # not judged
        return
    assert chosen in candidates
    # years bound: the chosen one is in force in the year
    assert (chosen.first_year is None or chosen.first_year <= year) and (chosen.last_year is None or year <= chosen.last_year)
    # it names nothing the commune is not
    assert chosen.region in (None, region) and chosen.commune_group in (None, group)
    # nothing that applies is more specific: a group beats a region, a region beats neither
    assert all(_level(t) <= _level(chosen) for t in candidates)
    if any(t.commune_group is not None for t in candidates):
        assert chosen.commune_group is not None
    elif any(t.region is not None for t in candidates):
        assert chosen.region is not None


@given(st.lists(thresholds, max_size=8), years, st.none() | st.sampled_from(REGIONS),
       st.none() | st.integers(min_value=1, max_value=3), thresholds)
def test_adding_a_less_specific_threshold_never_changes_a_more_specific_choice(items, year, region, group, extra):
    chosen = select(items, year=year, region=region, commune_group=group)
    if chosen is None or extra.specificity >= chosen.specificity:
        return
    assert select([*items, extra], year=year, region=region, commune_group=group) == chosen


@given(years, years)
def test_years_outside_the_bounds_are_not_judged(first, last):
    t = Threshold(value=36, first_year=first, last_year=last)
    for year in (first - 1, last + 1):
        if not (first <= year <= last):
            assert select([t], year=year, region=None, commune_group=None) is None
    if first <= last:
        assert select([t], year=first, region=None, commune_group=None) == t
        assert select([t], year=last, region=None, commune_group=None) == t


def test_the_poverty_line_moves_in_2027():
    # Decree 351/2025/NĐ-CP: 1.5 million đồng/month kept for 2026, 2.2 million from 2027 (shape of the data)
    line = [Threshold(value=1.5, first_year=2022, last_year=2026), Threshold(value=2.2, first_year=2027)]
    assert select(line, year=2026, region=None, commune_group=None).value == 1.5
    assert select(line, year=2027, region=None, commune_group=None).value == 2.2
    assert select(line, year=2021, region=None, commune_group=None) is None


def test_group_beats_region_beats_national():
    national = Threshold(value=45)
    north = Threshold(value=36, region="trung_du_mien_nui_phia_bac")
    group3 = Threshold(value=30, commune_group=3)
    items = [national, north, group3]
    assert select(items, year=2026, region="trung_du_mien_nui_phia_bac", commune_group=3) == group3
    assert select(items, year=2026, region="trung_du_mien_nui_phia_bac", commune_group=1) == north
    assert select(items, year=2026, region="dong_bang_song_hong", commune_group=None) == national
    # a later value of the same specificity replaces an earlier open-ended one
    later = Threshold(value=50, first_year=2027)
    assert select([national, later], year=2027, region=None, commune_group=None) == later
    assert select([national, later], year=2026, region=None, commune_group=None) == national


@pytest.mark.parametrize(("op", "value", "threshold", "expected"), [
    (Op.at_least, 36, 36, True), (Op.at_least, 35.9, 36, False), (Op.at_most, 2.8, 3, True),
    (Op.at_most, 3.1, 3, False), (Op.equal, 100, 100, True), (Op.boolean, True, True, True),
    (Op.boolean, False, True, False), (Op.boolean, 1, True, None), (Op.at_least, True, 1, None),
    (Op.at_least, float("nan"), 1, None), (Op.at_least, "36", 36, None), (Op.at_least, None, 36, None),
])
def test_meets(op, value, threshold, expected):
    assert meets(op, value, Threshold(value=threshold)) is expected


@given(st.lists(thresholds, min_size=1, max_size=6), years, st.none() | st.sampled_from(REGIONS),
       st.none() | st.integers(min_value=1, max_value=3))
def test_thresholds_without_problems_never_tie(items, year, region, group):
    """A list `problems` accepts never leaves two equally good candidates: the choice is never
    arbitrary (the order of the list does not matter)."""
    from app.criteria.thresholds import problems

    if problems(Op.at_least, items):
        return
    forward = select(items, year=year, region=region, commune_group=group)
    backward = select(list(reversed(items)), year=year, region=region, commune_group=group)
    assert forward == backward


def test_threshold_problems():
    from app.criteria.thresholds import problems

    assert problems(None, []) == [] and problems(Op.at_least, [Threshold(36)]) == []
    assert problems(None, [Threshold(36)])[0][0] is None  # thresholds need an op
    assert [i for i, _ in problems(Op.boolean, [Threshold(1)])] == [0]  # bool wants true/false
    assert [i for i, _ in problems(Op.at_least, [Threshold(True)])] == [0]  # compared wants a number
    assert [i for i, _ in problems(Op.at_least, [Threshold(float("nan"))])] == [0]
    assert [i for i, _ in problems(Op.at_most, [Threshold(1, first_year=2027, last_year=2026)])] == [0]
    # the same place and years twice: ambiguous; different first years or regions: fine
    assert [i for i, _ in problems(Op.at_most, [Threshold(1.5), Threshold(2)])] == [1]
    assert problems(Op.at_most, [Threshold(1.5, last_year=2026), Threshold(2, first_year=2027)]) == []
    assert problems(Op.at_most, [Threshold(1.5), Threshold(2, region="tay_nguyen")]) == []
    assert [i for i, _ in problems(Op.at_most, [Threshold(1.5, first_year=2022, last_year=2025),
                                                Threshold(2, first_year=2022, last_year=2023)])] == [1]


@pytest.mark.parametrize("value", [0, -0.0, 41.5, 10**300, 1e308])
def test_finite_numbers(value):
    from app.criteria.thresholds import is_number

    assert is_number(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**400, -(10**400), True, "41", None])
def test_not_finite_numbers(value):
    """An integer past a double's range is refused like Infinity (it made ``math.isfinite`` raise: a 500)."""
    from app.criteria.thresholds import is_number

    assert not is_number(value)

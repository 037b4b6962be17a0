"""The calculation rules, tested directly (no database), with property tests."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.reports import rules
from app.reports.rules import BandEdge, CommuneStatus, StatusGroup, Target

BANDS_19 = [BandEdge("19", 19, 19), BandEdge("15-18", 15, 18), BandEdge("10-14", 10, 14),
            BandEdge("5-9", 5, 9), BandEdge("0-4", 0, 4)]


@pytest.mark.parametrize(("value", "expected"), [
    (Fraction(61, 4), "15.3"),      # 15.25: binary-float rounding would give 15.2
    (Fraction(309, 20), "15.5"),    # 15.45: float(15.45) is 15.4499999…
    (Fraction(321, 20), "16.1"),    # 16.05
    (Fraction(187, 12), "15.6"),    # 15.583…
    (Fraction(139, 9), "15.4"),
    (Fraction(145, 9), "16.1"),
    (Fraction(1922, 136), "14.1"),  # Quảng Bình: 1,922 criteria over 136 communes
    (Decimal("16.05"), "16.1"),
    (0, "0.0"),
])
def test_round_half_up(value, expected):
    assert rules.round_half_up(value) == Decimal(expected)
    assert str(rules.round_half_up(value)) == expected


@given(st.fractions(max_denominator=10**6), st.integers(min_value=0, max_value=4))
def test_round_half_up_is_the_rounding_of_the_exact_value(value, places):
    """Integer arithmetic, the same figure as rounding the exact value by definition: the nearest
    multiple of 10^-places, ties away from zero, with ``places`` decimals shown."""
    scale = 10**places
    scaled = abs(value) * scale
    expected = int(scaled + Fraction(1, 2))  # floor, both non-negative
    if value < 0:
        expected = -expected
    got = rules.round_half_up(value, places)
    assert Fraction(got) == Fraction(expected, scale)
    assert got.as_tuple().exponent == -places


@given(st.integers(min_value=0, max_value=10**7), st.integers(min_value=1, max_value=10**4))
def test_round_half_up_matches_decimal_half_up_on_exact_values(total, count):
    exact = Fraction(total, count)
    got = rules.round_half_up(exact)
    # the rounded figure is within half a step of the exact value, ties going up
    assert abs(Fraction(got) - exact) <= Fraction(1, 20)
    if Fraction(got) - exact == Fraction(-1, 20):
        pytest.fail("a tie was rounded down")


def test_si_ma_cai_2020_against_plan():
    avg = rules.official_average(139, 9)
    assert avg == Decimal("15.4")
    assert rules.percent_of_target(139, 9, Decimal("15.5")) == Decimal("99.6")
    assert rules.target_met(avg, Decimal("15.5")) is False
    assert rules.gap(avg, Decimal("15.5")) == Decimal("0.1")


def test_additional_needed_si_ma_cai_2021():
    assert rules.additional_needed(139, 9, Decimal("16.1"), 9 * 19) == 6


def test_additional_needed_is_zero_when_already_met():
    assert rules.additional_needed(145, 9, Decimal("16.1"), 171) == 0


def test_additional_needed_none_when_unreachable_or_no_communes():
    assert rules.additional_needed(170, 9, Decimal("19.0"), 171) == 1
    assert rules.additional_needed(100, 9, Decimal("19.0"), 170) is None
    assert rules.additional_needed(0, 0, Decimal("10"), 0) is None


def test_gap_is_never_negative():
    assert rules.gap(Decimal("16.2"), Decimal("16.1")) == Decimal("0.0")


def test_percent_of_target_none_for_zero_target():
    assert rules.percent_of_target(10, 1, Decimal("0")) is None


@given(
    count=st.integers(min_value=1, max_value=400),
    data=st.data(),
    target_tenths=st.integers(min_value=0, max_value=190),
)
def test_additional_needed_is_minimal(count, data, target_tenths):
    max_total = 19 * count
    total = data.draw(st.integers(min_value=0, max_value=max_total))
    target = Decimal(target_tenths) / 10
    k = rules.additional_needed(total, count, target, max_total)
    if k is None:
        assert rules.round_half_up(Fraction(max_total, count)) < target
        return
    assert k >= 0 and total + k <= max_total
    assert rules.round_half_up(Fraction(total + k, count)) >= target
    if k > 0:
        assert rules.round_half_up(Fraction(total + k - 1, count)) < target


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=10**4))
def test_exact_average_has_six_places_and_rounds_consistently(total, count):
    exact = rules.exact_decimal(Fraction(total, count))
    assert exact.as_tuple().exponent == -6
    assert abs(Fraction(exact) - Fraction(total, count)) <= Fraction(1, 2 * 10**6)


@given(st.dictionaries(st.integers(min_value=0, max_value=19), st.integers(min_value=0, max_value=1000)))
def test_band_counts_partition_the_communes(histogram):
    counts = rules.band_counts(histogram, BANDS_19)
    assert list(counts) == ["19", "15-18", "10-14", "5-9", "0-4"]
    assert sum(counts.values()) == sum(histogram.values())


def test_band_of_edges():
    assert [rules.band_of(n, BANDS_19) for n in (19, 18, 15, 14, 10, 9, 5, 4, 0)] == [
        "19", "15-18", "15-18", "10-14", "10-14", "5-9", "5-9", "0-4", "0-4"]


# ---- flags ---------------------------------------------------------------------------------------

def status(year, met, *, set_code="2016-2020", count=19):
    return CommuneStatus(year=year, criteria_set=set_code, criteria_count=count, met=frozenset(met))


ALL = range(1, 20)


def flags(**kw):
    base = dict(year=2021, status=None, previous=None, set_criteria_count=19, standard_target=False,
                commune_target=None, recognized=False)
    return rules.commune_flags(**{**base, **kw})


def test_standard_target_not_reached_is_at_risk_with_missing_criteria():
    got = flags(status=status(2021, set(ALL) - {4, 17}), standard_target=True)
    assert got.flags == ["standard_target", "at_risk"]
    assert got.missing_criteria == [4, 17]


def test_standard_target_reached_is_not_at_risk():
    got = flags(status=status(2021, ALL), standard_target=True)
    assert got.flags == ["standard_target", "standard_reached"] and got.missing_criteria == []


def test_regressed_lists_lost_criteria_within_one_set():
    got = flags(status=status(2021, {1, 2, 3}), previous=status(2020, {1, 2, 5, 9}))
    assert got.flags == ["regressed"] and got.lost_criteria == [5, 9]


def test_new_criteria_set_is_not_regression():
    got = flags(year=2022, status=status(2022, {1}, set_code="2021-2025"), previous=status(2021, {1, 2, 3}))
    assert "regressed" not in got.flags and got.lost_criteria == []


def test_behind_plan_against_commune_target():
    assert flags(status=status(2021, range(1, 15)), commune_target=15).flags == ["behind_plan"]
    assert flags(status=status(2021, range(1, 16)), commune_target=15).flags == []


def test_recognized_below_standard_and_carried_forward():
    got = flags(status=status(2020, range(1, 18)), recognized=True)
    assert got.flags == ["recognized_below_standard", "carried_forward"]


def test_missing_commune():
    got = flags(standard_target=True, commune_target=10)
    assert got.flags == ["standard_target", "at_risk", "behind_plan", "missing"]
    assert got.missing_criteria == list(ALL)


# ---- summary -----------------------------------------------------------------------------------

def test_summarize_si_ma_cai_2020():
    groups = [StatusGroup(15, 19, 4), StatusGroup(16, 19, 4), StatusGroup(15, 19, 1)]  # 139 over 9
    s = rules.summarize(groups, bands=BANDS_19, target=Target(Decimal("15.5")), gained=None)
    assert (s.commune_count, s.total_criteria_met) == (9, 139)
    assert s.average_exact == Decimal("15.444444") and s.average == Decimal("15.4")
    assert s.percent_of_target == Decimal("99.6") and s.target_met is False and s.gap == Decimal("0.1")
    assert s.additional_criteria_needed == 1  # 140/9 = 15.56 → 15.6
    assert s.bands == {"19": 0, "15-18": 9, "10-14": 0, "5-9": 0, "0-4": 0}
    assert s.min_additional_criteria is None and s.min_additional_criteria_met is None


def test_summarize_without_target_leaves_target_fields_null():
    s = rules.summarize([StatusGroup(19, 19, 2)], bands=BANDS_19, target=None, gained=3)
    assert s.target_average is None and s.target_met is None and s.gap is None
    assert s.percent_of_target is None and s.additional_criteria_needed is None
    assert s.standard_communes_count == 2 and s.additional_criteria_gained == 3


def test_summarize_min_additional_met():
    s = rules.summarize([StatusGroup(16, 19, 1)], bands=BANDS_19,
                        target=Target(Decimal("16.1"), 6), gained=6)
    assert s.min_additional_criteria == 6 and s.min_additional_criteria_met is True


def test_summarize_no_communes():
    s = rules.summarize([], bands=BANDS_19, target=Target(Decimal("10")), gained=None)
    assert s.commune_count == 0 and s.average is None and s.average_exact is None
    assert s.target_met is False and s.gap is None and s.additional_criteria_needed is None


@given(st.lists(st.tuples(st.integers(0, 19), st.integers(1, 50)), max_size=20),
       st.integers(min_value=0, max_value=190))
def test_summary_figures_agree_with_each_other(raw, target_tenths):
    groups = [StatusGroup(m, 19, n) for m, n in raw]
    assume(groups)
    target = Decimal(target_tenths) / 10
    s = rules.summarize(groups, bands=BANDS_19, target=Target(target), gained=None)
    assert s.total_criteria_met == sum(m * n for m, n in raw)
    assert sum(s.bands.values()) == s.commune_count
    assert s.target_met == (s.average >= target)
    assert s.gap == max(Decimal("0.0"), target - s.average)
    assert (s.additional_criteria_needed == 0) == s.target_met


def test_indicator_conflict_flag_follows_the_status():
    def flags(conflict: bool) -> list[str]:
        status = CommuneStatus(year=2020, criteria_set="2016-2020", criteria_count=19, met=frozenset(range(1, 20)),
                               indicator_conflict=conflict)
        return rules.commune_flags(year=2020, status=status, previous=None, set_criteria_count=19, standard_target=False,
                             commune_target=None, recognized=False).flags

    assert "indicator_conflict" in flags(True) and "indicator_conflict" not in flags(False)

"""Recognition rules, tested directly (no database), with property tests."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from app.recognitions import rules

LEVELS = st.frozensets(st.sampled_from(rules.COMMUNE_LEVELS))
YEARS = st.integers(2010, 2040)
DAYS = st.dates(dt.date(2010, 1, 1), dt.date(2041, 12, 31))


def test_valid_in_year_examples():
    assert rules.valid_in(2021, recognition_year=2021, revoked_on=None)
    assert not rules.valid_in(2020, recognition_year=2021, revoked_on=None)
    # revoked on or before 31 December of Y: not valid in Y
    assert not rules.valid_in(2023, recognition_year=2021, revoked_on=dt.date(2023, 5, 1))
    assert not rules.valid_in(2023, recognition_year=2021, revoked_on=dt.date(2023, 12, 31))
    assert rules.valid_in(2023, recognition_year=2021, revoked_on=dt.date(2024, 1, 1))
    assert rules.valid_in(2022, recognition_year=2021, revoked_on=dt.date(2023, 5, 1))


@given(year=YEARS, recognised=YEARS, revoked=st.none() | DAYS)
def test_valid_in_year_is_the_contract_rule(year, recognised, revoked):
    expected = recognised <= year and not (revoked is not None and revoked <= dt.date(year, 12, 31))
    assert rules.valid_in(year, recognition_year=recognised, revoked_on=revoked) is expected


@given(recognised=YEARS, revoked=st.none() | DAYS, a=YEARS, b=YEARS)
def test_validity_is_one_unbroken_run_of_years(recognised, revoked, a, b):
    """Valid in two years ⇒ valid in every year between them (a recognition never comes back by itself)."""
    lo, hi = sorted((a, b))
    if rules.valid_in(lo, recognition_year=recognised, revoked_on=revoked) and rules.valid_in(
        hi, recognition_year=recognised, revoked_on=revoked
    ):
        assert all(rules.valid_in(y, recognition_year=recognised, revoked_on=revoked) for y in range(lo, hi + 1))
    if revoked is not None:
        assert not rules.valid_in(max(revoked.year, recognised), recognition_year=recognised, revoked_on=revoked)


@given(st.lists(LEVELS, max_size=40))
def test_cumulative_counts(communes):
    got = rules.cumulative_counts(communes)
    assert got["chuan"] == sum(1 for levels in communes if levels)
    assert got["nang_cao"] == sum(1 for levels in communes if {"nang_cao", "kieu_mau"} & levels)
    assert got["kieu_mau"] == sum(1 for levels in communes if "kieu_mau" in levels)
    assert got["hien_dai"] == sum(1 for levels in communes if "hien_dai" in levels)
    # cumulative: each higher level is a subset of the one below
    assert got["chuan"] >= got["nang_cao"] >= got["kieu_mau"]
    assert got["chuan"] >= got["hien_dai"]
    assert got["chuan"] <= len(communes)
    # the grouped form (bit sets, as the database returns them) gives the same counts
    masks: dict[int, int] = {}
    for levels in communes:
        masks[rules.bits_of(levels)] = masks.get(rules.bits_of(levels), 0) + 1
    assert rules.cumulative_from_bits(masks) == got


def test_levels_round_trip_through_bits():
    for levels in ({"chuan"}, {"chuan", "kieu_mau"}, set(rules.COMMUNE_LEVELS), set()):
        assert rules.levels_of(rules.bits_of(levels)) == levels

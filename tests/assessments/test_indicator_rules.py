"""The pure evaluation of a criterion's indicators (contract v1.2)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.assessments import rules
from app.assessments.schemas import CriterionResult
from app.criteria.thresholds import Op, Threshold

NORTH = "trung_du_mien_nui_phia_bac"
JUDGE = rules.Judge(year=2020, region=NORTH, commune_group=None, indicators={
    10: [rules.IndicatorRule("10.1", Op.at_least, (Threshold(36, region=NORTH, first_year=2020),))],
    17: [rules.IndicatorRule("17.1", Op.boolean, (Threshold(True),)),
         rules.IndicatorRule("17.2", Op.at_most, (Threshold(5), Threshold(3, commune_group=1)))],
    18: [rules.IndicatorRule("18.1", None, ())],
})

numbers = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))


@given(numbers)
def test_a_single_indicator_decides_its_criterion(value):
    evaluation, by_indicators = rules.evaluate(10, {"10.1": value}, JUDGE)
    assert by_indicators is (value >= 36)
    assert [(e.code, e.value, e.op, e.threshold, e.met) for e in evaluation] == [("10.1", value, ">=", 36, value >= 36)]


@given(st.booleans(), st.one_of(st.none(), numbers))
def test_true_only_when_every_indicator_is_judged_and_met(flag, amount):
    values = {"17.1": flag} if amount is None else {"17.1": flag, "17.2": amount}
    evaluation, by_indicators = rules.evaluate(17, values, JUDGE)
    mets = [e.met for e in evaluation]
    if False in mets:
        assert by_indicators is False
    elif amount is None:
        assert by_indicators is None and mets == [True]
    else:
        assert by_indicators is True and mets == [True, True]


def test_not_judged_without_threshold_op_or_value():
    assert rules.evaluate(10, {"10.1": 50}, rules.Judge(year=2019, region=NORTH, indicators=JUDGE.indicators)) == ([], None)
    assert rules.evaluate(10, {"10.1": 50}, rules.Judge(year=2020, region="tay_nguyen",
                                                        indicators=JUDGE.indicators)) == ([], None)
    assert rules.evaluate(18, {"18.1": 3}, JUDGE) == ([], None)
    assert rules.evaluate(1, None, JUDGE) == ([], None)  # a criterion without indicators
    assert rules.evaluate(10, {"10.1": None}, JUDGE) == ([], None)


def test_the_commune_group_threshold_wins():
    grouped = rules.Judge(year=2020, region=NORTH, commune_group=1, indicators=JUDGE.indicators)
    evaluation, _ = rules.evaluate(17, {"17.2": 4}, grouped)
    assert evaluation[0].threshold == 3 and evaluation[0].met is False
    evaluation, _ = rules.evaluate(17, {"17.2": 4}, JUDGE)
    assert evaluation[0].threshold == 5 and evaluation[0].met is True


def test_indicator_errors_name_the_key():
    errors = rules.indicator_errors(10, {"10.1": True, "11.1": 2, "10.2": None}, JUDGE, prefix="criteria[9].indicators")
    assert [e.field for e in errors] == ["criteria[9].indicators.10.1", "criteria[9].indicators.11.1",
                                         "criteria[9].indicators.10.2"]
    assert [e.field for e in rules.indicator_errors(17, {"17.1": 1, "17.2": False}, JUDGE, prefix="indicators")] == [
        "indicators.17.1", "indicators.17.2"]
    assert rules.indicator_errors(17, {"17.1": False, "17.2": 2.5}, JUDGE, prefix="indicators") == []
    assert rules.indicator_errors(18, {"18.1": 2.5}, JUDGE, prefix="x") == []


@given(st.lists(st.tuples(st.integers(1, 19), st.one_of(st.none(), st.booleans()), numbers), max_size=19,
                unique_by=lambda t: t[0]))
def test_conflicts_are_the_given_mets_that_disagree(items):
    shown = [rules.judged(CriterionResult(number=n, met=met, indicators={"10.1": v} if n == 10 else None), JUDGE)
             for n, met, v in items]
    expected = sorted(c.number for c in shown if c.met_by_indicators is not None and c.met != c.met_by_indicators)
    assert rules.conflicts(shown) == expected
    for (n, met, v), c in zip(items, shown, strict=True):
        if met is None and n == 10:
            assert c.met is (v >= 36) and n not in expected
        if n != 10:
            assert n not in expected

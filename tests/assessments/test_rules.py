"""The pure assessment rules: what is frozen, the workflow and its four-eyes invariant."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.assessments import rules
from app.assessments.models import AssessmentStatus
from app.assessments.rules import Stamp, Step
from app.auth.models import Role
from app.auth.rules import Action, allowed, may_act
from app.core.errors import Conflict, Forbidden

pytestmark = pytest.mark.pure

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
EMPTY = Stamp(None, None, None, None)


def test_only_a_draft_may_change():
    assert rules.frozen(AssessmentStatus.draft, code="02812", year=2021) is None
    assert "submitted; reopen it first" in rules.frozen("submitted", code="02812", year=2021)
    assert "approved and locked" in rules.frozen(AssessmentStatus.approved, code="02812", year=2021)
    with pytest.raises(Conflict):
        rules.ensure_editable("submitted", code="02812", year=2021)


def test_towns_and_districts_are_not_assessed():
    assert rules.not_assessable(name="Xã Sán Chải", code="02812", level="commune", kind="xa", year=2021) is None
    assert "only communes (xã)" in rules.not_assessable(name="Thị trấn Si Ma Cai", code="02809", level="commune",
                                                         kind="thi_tran", year=2021)
    assert "not a commune" in rules.not_assessable(name="Huyện Si Ma Cai", code="084", level="district",
                                                    kind="huyen", year=2021)


def test_the_submitter_cannot_approve():
    status, stamp = rules.transition("draft", Step.submit, actor="a", stamp=EMPTY, now=NOW)
    assert status == AssessmentStatus.submitted and stamp.submitted_by == "a"
    with pytest.raises(Forbidden):
        rules.transition(status, Step.approve, actor="a", stamp=stamp, now=NOW)
    status, stamp = rules.transition(status, Step.approve, actor="b", stamp=stamp, now=NOW)
    assert (status, stamp.submitted_by, stamp.approved_by) == (AssessmentStatus.approved, "a", "b")
    with pytest.raises(Conflict):
        rules.transition(status, Step.submit, actor="b", stamp=stamp, now=NOW)


@given(st.lists(st.tuples(st.sampled_from(list(Step)), st.sampled_from(["a", "b", "c"])), max_size=12))
def test_every_approved_assessment_had_two_people(moves):
    """Whatever sequence of steps by whichever actors: an approved assessment was submitted and
    approved by two different actors, and a draft carries no workflow stamp."""
    status, stamp = AssessmentStatus.draft, EMPTY
    for step, actor in moves:
        try:
            status, stamp = rules.transition(status, step, actor=actor, stamp=stamp, now=NOW)
        except (Conflict, Forbidden):
            continue
        if status == AssessmentStatus.approved:
            assert stamp.submitted_by is not None and stamp.approved_by not in (None, stamp.submitted_by)
        if status == AssessmentStatus.draft:
            assert stamp == EMPTY
        if status == AssessmentStatus.submitted:
            assert stamp.submitted_by == actor and stamp.approved_by is None


@given(st.sampled_from(list(Role)), st.sampled_from(list(Action)))
def test_keys_never_approve_or_reopen(role, action):
    """Nor manage users and keys: a key that could mint a person could approve what it submitted."""
    chain = [1, 2, 3, 4]
    if action in (Action.assessment_review, Action.manage_access):
        assert not may_act(role, action, is_person=False)
        assert not allowed(role, 2, action, chain, is_person=False)
    else:
        assert may_act(role, action, is_person=False) == may_act(role, action, is_person=True)


def test_scope_compares_units_not_codes():
    old_02824, new_02824 = 101, 202  # one code, two units
    assert allowed(Role.commune, old_02824, Action.assessment_write, [old_02824, 84, 10, 1])
    assert not allowed(Role.commune, new_02824, Action.assessment_write, [old_02824, 84, 10, 1])
    assert not allowed(Role.district, 84, Action.assessment_write, [new_02824, 15, 1])

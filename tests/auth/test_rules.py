"""The permission rules, directly."""

import pytest

from app.auth.models import Role
from app.auth.rules import Action, allowed, in_scope

SAN_CHAI = ["02812", "084", "10", "VN"]
NAN_SAN = ["02800", "084", "10", "VN"]
DISTRICT = ["084", "10", "VN"]


def test_admin_may_do_anything_anywhere():
    assert all(allowed(Role.admin, None, action, SAN_CHAI) for action in Action)


def test_commune_writes_only_its_own_assessments():
    assert allowed(Role.commune, "02812", Action.assessment_write, SAN_CHAI)
    assert allowed(Role.commune, "02812", Action.assessment_submit, SAN_CHAI)
    assert not allowed(Role.commune, "02812", Action.assessment_write, NAN_SAN)
    assert not allowed(Role.commune, "02812", Action.assessment_review, SAN_CHAI)
    assert not allowed(Role.commune, "02812", Action.target_write, DISTRICT)


@pytest.mark.parametrize(("role", "unit"), [(Role.district, "084"), (Role.province, "10")])
def test_offices_act_within_their_scope(role, unit):
    for action in (Action.assessment_write, Action.assessment_review, Action.target_write, Action.recognition_write):
        assert allowed(role, unit, action, SAN_CHAI)
    assert not allowed(role, unit, Action.assessment_write, ["02809", "15", "VN"])
    assert not allowed(role, unit, Action.administer, SAN_CHAI)


def test_viewer_never_writes():
    assert not any(allowed(Role.viewer, "084", action, SAN_CHAI) for action in Action)


def test_scope_needs_a_unit():
    assert not in_scope(None, SAN_CHAI) and in_scope("10", SAN_CHAI) and not in_scope("15", SAN_CHAI)

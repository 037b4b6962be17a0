"""The one exception the contract fuzzing makes to schemathesis' positive-data acceptance check:
a 422 `/problems/rule-violation`; a 422 `/problems/validation-error` is still judged."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.contract import schemathesis_hooks as hooks

pytestmark = pytest.mark.pure


def response(status: int, problem_type: str):
    return SimpleNamespace(status_code=status, headers={"content-type": ["application/problem+json"]},
                           content=json.dumps({"type": problem_type, "status": status}).encode())


def test_only_rule_violations_are_let_through(monkeypatch):
    judged = []
    monkeypatch.setattr(hooks, "positive_data_acceptance", lambda ctx, r, case: judged.append(r.status_code))
    check = hooks.positive_data_acceptance_except_rule_violations
    assert check(None, response(422, "/problems/rule-violation"), None) is None
    check(None, response(422, "/problems/validation-error"), None)
    check(None, response(400, "/problems/rule-violation"), None)
    assert judged == [422, 400]

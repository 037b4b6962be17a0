"""Who may do what where: pure rules over a role, its unit and the target's unit chain.

A principal's scope is its unit and every unit below it. ``chain`` is the target unit's
code followed by its ancestors' codes (``["02812", "084", "10", "VN"]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from app.auth.models import Role


class Action(StrEnum):
    assessment_write = "assessment_write"
    assessment_submit = "assessment_submit"
    assessment_review = "assessment_review"  # approve, reopen
    target_write = "target_write"
    recognition_write = "recognition_write"
    audit_read = "audit_read"
    administer = "administer"  # units, criteria sets, users, API keys


# What each action is, in words that follow "may not" in a 403's detail.
ACTION_LABELS: dict[Action, str] = {
    Action.assessment_write: "write assessments",
    Action.assessment_submit: "submit assessments",
    Action.assessment_review: "approve or reopen assessments",
    Action.target_write: "write targets",
    Action.recognition_write: "record recognitions",
    Action.audit_read: "read the audit trail",
    Action.administer: "administer units, criteria sets, users and API keys",
}

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.admin: frozenset(Action),
    Role.province: frozenset({
        Action.assessment_write, Action.assessment_submit, Action.assessment_review,
        Action.target_write, Action.recognition_write, Action.audit_read,
    }),
    Role.district: frozenset({
        Action.assessment_write, Action.assessment_submit, Action.assessment_review,
        Action.target_write, Action.recognition_write, Action.audit_read,
    }),
    Role.commune: frozenset({Action.assessment_write, Action.assessment_submit}),
    Role.viewer: frozenset(),
}

# The level of unit each bound role must be bound to (a viewer may watch any unit).
ROLE_UNIT_LEVEL: dict[Role, str | None] = {
    Role.province: "province", Role.district: "district", Role.commune: "commune", Role.viewer: None,
}


def in_scope(unit_code: str | None, chain: Sequence[str]) -> bool:
    """The target (whose chain this is) is the principal's unit or below it."""
    return unit_code is not None and unit_code in chain


def allowed(role: Role, unit_code: str | None, action: Action, chain: Sequence[str] | None) -> bool:
    if role == Role.admin:
        return True
    if action not in ROLE_ACTIONS[role]:
        return False
    if chain is None:
        return False
    if role == Role.commune:
        return bool(chain) and chain[0] == unit_code  # its own commune only
    return in_scope(unit_code, chain)

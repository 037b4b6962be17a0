"""Who may do what where: pure rules over a role, its unit and the target's unit chain.

A principal's scope is its unit and every unit below it. ``chain`` is the target unit
followed by its ancestors, nearest first, as valid on the day the action concerns — as unit
ids (a code plus its validity period: scope follows the unit, not the code), or as codes
where only codes are at hand (``["02812", "084", "10", "VN"]``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from enum import StrEnum

from app.auth.models import Role


class Action(StrEnum):
    assessment_write = "assessment_write"
    assessment_submit = "assessment_submit"
    assessment_review = "assessment_review"  # approve, reopen
    target_write = "target_write"
    recognition_write = "recognition_write"
    audit_read = "audit_read"
    administer = "administer"  # units, criteria sets
    manage_access = "manage_access"  # users, API keys: a person's act (a key never mints credentials)

    @property
    def label(self) -> str:
        """What the action is, in words, for messages ("may not approve or reopen assessments")."""
        return ACTION_LABELS[self]


ACTION_LABELS: dict[Action, str] = {
    Action.assessment_write: "write assessments",
    Action.assessment_submit: "submit assessments",
    Action.assessment_review: "approve or reopen assessments",
    Action.target_write: "set targets, plan indicators or unit attributes",  # the three share one right
    Action.recognition_write: "record recognitions",
    Action.audit_read: "read the audit trail",
    Action.administer: "administer units and criteria sets",
    Action.manage_access: "manage users and API keys",
}

# Four eyes: approving and reopening are a person's acts; a system holding an API key may
# submit, never approve or reopen (contract v1.3). Nor may a key create or change users and keys:
# a key that could mint a person (or another key) could then approve what it submitted.
PERSON_ONLY: frozenset[Action] = frozenset({Action.assessment_review, Action.manage_access})


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


def in_scope(bound: Hashable | None, chain: Sequence[Hashable]) -> bool:
    """The target (whose chain this is) is the principal's unit or below it."""
    return bound is not None and bound in chain


def may_act(role: Role, action: Action, *, is_person: bool = True) -> bool:
    """The role (and the kind of credential) allows the action somewhere."""
    if action in PERSON_ONLY and not is_person:
        return False
    return role == Role.admin or action in ROLE_ACTIONS[role]


def allowed(
    role: Role, bound: Hashable | None, action: Action, chain: Sequence[Hashable] | None, *, is_person: bool = True
) -> bool:
    """``bound``: the principal's unit, in the same terms as ``chain`` (ids, or codes)."""
    if not may_act(role, action, is_person=is_person):
        return False
    if role == Role.admin:
        return True
    if chain is None:
        return False
    if role == Role.commune:
        return bool(chain) and chain[0] == bound  # its own commune only
    return in_scope(bound, chain)

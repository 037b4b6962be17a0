"""Who may act where: the checks every use case makes before it writes (401/403)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Principal
from app.auth.rules import PERSON_ONLY, Action, allowed, may_act
from app.core.errors import Forbidden, Unauthorized
from app.units import service as units_service
from app.units.models import AdminUnit


def require(principal: Principal | None, action: Action) -> Principal:
    """The principal's role (and kind of credential) may take this action somewhere; scope is
    checked by ``authorize``. 401 without credentials, 403 otherwise."""
    if principal is None:
        raise Unauthorized("Sign in to change data.")
    if not may_act(principal.role, action, is_person=principal.is_person):
        if action in PERSON_ONLY and not principal.is_person:
            raise Forbidden(f"{principal.actor} is an API key: only a person may {action.label} (four-eyes rule).")
        raise Forbidden(f"The role {principal.role.value!r} may not {action.label}.")
    return principal


async def authorize(
    session: AsyncSession, principal: Principal | None, action: Action, unit: AdminUnit, *, on: dt.date | None = None
) -> tuple[Principal, list[str]]:
    """403 unless the principal's role allows the action on this unit (its unit or below, as
    valid on ``on``: scope follows the unit the principal is bound to, not its code).

    Returns the principal and the unit's chain of codes (for the audit record)."""
    principal = require(principal, action)
    found = await units_service.unit_chain(session, unit, on=on)
    if not allowed(principal.role, principal.unit_id, action, found.ids, is_person=principal.is_person):
        raise Forbidden(
            f"{principal.actor} ({principal.role.value} of {principal.unit_code}) may not "
            f"{action.label} of {unit.name} ({unit.code}"
            + (f", in {on.year}" if on else "") + "): outside its scope."
        )
    return principal, found.codes

"""Built-in reference data: loaded at every start, idempotently."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.criteria import service as criteria_service
from app.units import service as units_service


async def load_reference(session: AsyncSession) -> None:
    """Insert the built-in units, lineage and criteria sets that are missing; never overwrite."""
    await units_service.load_builtin(session)
    await criteria_service.load_builtin(session)

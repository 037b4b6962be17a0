"""Test data for the plan-indicator tests."""

from __future__ import annotations

from sqlalchemy import delete

from app.plan_indicators.models import PlanIndicator, PlanIndicatorList
from tests.builders import load_demo


async def load_demo_figures(db) -> None:
    """The demo's NTM figures (assessments, targets, recognitions) without its plan-indicator list."""
    await load_demo(db)
    async with db.transaction() as session:
        await session.execute(delete(PlanIndicator))
        await session.execute(delete(PlanIndicatorList))

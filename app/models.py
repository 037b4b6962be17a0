"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from app.core.db import metadata
from app.criteria.models import CriteriaSet, Criterion, Indicator
from app.units.models import AdminUnit, UnitLineage

__all__ = ["metadata", "AdminUnit", "UnitLineage", "CriteriaSet", "Criterion", "Indicator"]

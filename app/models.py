"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from app.assessments.models import Assessment, AssessmentCriterion
from app.audit.models import AuditRecord
from app.auth.models import ApiKey, LoginFailure, User
from app.core.db import ChangeToken, metadata
from app.criteria.models import CriteriaSet, Criterion, Indicator
from app.exchange.models import ImportRequest
from app.plan_indicators.models import PlanIndicator, PlanIndicatorList
from app.recognitions.models import Recognition
from app.reports.tables import ReportAgg, ReportAggEpoch
from app.targets.models import Target
from app.units.models import AdminUnit, UnitAttribute, UnitLineage

__all__ = [
    "metadata", "AdminUnit", "UnitLineage", "CriteriaSet", "Criterion", "Indicator",
    "Assessment", "AssessmentCriterion", "Recognition", "Target", "User", "ApiKey", "LoginFailure", "AuditRecord",
    "ImportRequest", "UnitAttribute", "PlanIndicatorList", "PlanIndicator", "ChangeToken",
    "ReportAgg", "ReportAggEpoch",
]

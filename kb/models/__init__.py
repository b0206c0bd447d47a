"""SQLAlchemy models. Import from here: ``from kb.models import Indicator``."""
from kb.models.audit import AuditEntry, AuditLogIsAppendOnly
from kb.models.base import Base
from kb.models.department import Department, IndicatorSet
from kb.models.goal import BudgetProject, GoalReview, GoalRow, GoalRowComment, PerformanceGoal
from kb.models.indicator import Indicator, IndicatorBasis
from kb.models.meaning_vector import MeaningVector
from kb.models.monitoring import MonitoringEntry, MonitoringIndicator, MonitoringRound, MonitoringRuleVersion
from kb.models.personal import Favourite, RecentView
from kb.models.query_log import QueryLogEntry
from kb.models.search_outbox import SearchOutbox
from kb.models.selfeval import (
    ProblemCategory, SelfEvaluation, SelfEvaluationRow, SpotCheck, SpotCheckDraw, SpotCheckProblem,
)
from kb.models.synonym_group import RejectedGuess, SynonymGroup
from kb.models.token import ApiToken
from kb.models.user import User
from kb.models.workflow import ChangeRequest, ReviewAssignment, ReviewComment, ReviewRequest

__all__ = [
    "ApiToken",
    "Favourite",
    "RecentView",
    "AuditEntry",
    "AuditLogIsAppendOnly",
    "Base",
    "BudgetProject",
    "ChangeRequest",
    "Department",
    "GoalReview",
    "GoalRow",
    "GoalRowComment",
    "Indicator",
    "IndicatorBasis",
    "IndicatorSet",
    "MeaningVector",
    "MonitoringEntry",
    "MonitoringIndicator",
    "MonitoringRound",
    "MonitoringRuleVersion",
    "PerformanceGoal",
    "ReviewAssignment",
    "ReviewComment",
    "ReviewRequest",
    "SearchOutbox",
    "ProblemCategory",
    "QueryLogEntry",
    "SelfEvaluation",
    "SelfEvaluationRow",
    "SpotCheck",
    "SpotCheckDraw",
    "SpotCheckProblem",
    "RejectedGuess",
    "SynonymGroup",
    "User",
]

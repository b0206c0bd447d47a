"""The 指标值回流 section of the indicator detail page (templates/indicators/detail_values.html)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kb.models import Indicator
from kb.services import indicator_values


def observed_context(session: Session, indicator: Indicator) -> dict[str, Any]:
    """Targets and actuals flowing back from goals and self-evaluations, their chart, recorded standards."""
    values = indicator_values.indicator_values(session, indicator.code)
    return {"values": values, "chart": values.chart(), "standards": indicator_values.standards(indicator)}

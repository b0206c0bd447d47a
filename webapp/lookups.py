"""Reading glue shared by pages and API: the search calls (kb.searching), department summaries, facet labels."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

import kb.searching as searching
from kb.models import Department, Indicator
from kb.vocab import IndicatorState, SetStatus
from search import BaseBackend

STATUS_LABELS = {status.value: status.label for status in SetStatus} | {"common": "共性指标"}
STATE_LABELS = {IndicatorState.ACTIVE.value: "在用", IndicatorState.RETIRED.value: "已停用"}


def search(session: Session, backend: BaseBackend, text: str, **options: Any) -> dict[str, Any]:
    return searching.search_indicators(session, backend, text, **options)


def recommend(session: Session, backend: BaseBackend, text: str, *, department: str | None = None,
              limit: int = 20) -> dict[str, Any]:
    result = searching.recommend_indicators(session, backend, text, department=department, limit=limit)
    return {"total": result["total"], "hits": result["hits"]}


def suggest(session: Session, backend: BaseBackend, prefix: str, *, limit: int = 8) -> list[dict[str, Any]]:
    return searching.suggest_indicators(session, backend, (prefix or "").strip()[:100], limit=limit)


def similar(session: Session, backend: BaseBackend, indicator: Indicator, *, limit: int = 6) -> list[dict[str, Any]]:
    return searching.similar_indicators(session, backend, indicator.code, limit=limit)


def department_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Department.code, Department.name)).all())


def department_summaries(session: Session) -> list[dict[str, Any]]:
    """Every department with its current set's status and how many active indicators it has."""
    departments = session.scalars(
        select(Department).options(selectinload(Department.indicator_sets), selectinload(Department.parent))
        .order_by(Department.code)
    ).all()
    counts = dict(session.execute(
        select(Indicator.department_id, func.count()).where(Indicator.state == IndicatorState.ACTIVE)
        .group_by(Indicator.department_id)
    ).all())
    rows = []
    for department in departments:
        current = department.current_set
        rows.append({
            "code": department.code,
            "name": department.name,
            "parent": department.parent_code,
            "pilot": department.pilot,
            "set_year": current.year if current else None,
            "set_version": current.version if current else None,
            "status": current.status.value if current else None,
            "status_label": current.status.label if current else None,
            "indicator_count": counts.get(department.id, 0),
        })
    return rows

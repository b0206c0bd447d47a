"""Reading glue shared by pages and API: search calls (with fallbacks while an engine function is
missing), department summaries, facet labels."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
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
    function = getattr(searching, "recommend_indicators", None)
    if function is not None:
        return function(session, backend, text, department=department, limit=limit)
    result = searching.search_indicators(session, backend, text, limit=limit)
    return {"total": result["total"], "hits": result["hits"]}


def suggest(session: Session, backend: BaseBackend, prefix: str, *, limit: int = 8) -> list[dict[str, Any]]:
    prefix = (prefix or "").strip()
    if not prefix:
        return []
    function = getattr(searching, "suggest_indicators", None)
    if function is not None:
        return function(session, backend, prefix, limit=limit)
    # Until the engine's suggester exists: names containing the typed text, in-use ones first.
    rows = session.scalars(
        select(Indicator).options(selectinload(Indicator.department))
        .where(or_(Indicator.name.contains(prefix, autoescape=True), Indicator.code.startswith(prefix, autoescape=True)))
        .order_by(Indicator.state, func.length(Indicator.name), Indicator.code).limit(limit)
    ).all()
    return [{"code": i.code, "name": i.name, "department": i.department.name if i.department else None} for i in rows]


def similar(session: Session, backend: BaseBackend, indicator: Indicator, *, limit: int = 6) -> list[dict[str, Any]]:
    function = getattr(searching, "similar_indicators", None)
    if function is not None:
        return function(session, backend, indicator.code, limit=limit)
    result = searching.search_indicators(session, backend, indicator.name, filters={"level2": indicator.level2},
                                         limit=limit + 1)
    return [hit for hit in result["hits"] if hit["code"] != indicator.code][:limit]


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

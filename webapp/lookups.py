"""Reading glue shared by pages and API: department names and summaries (searching is kb.searching's)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kb.models import Department, Indicator
from kb.vocab import IndicatorState


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

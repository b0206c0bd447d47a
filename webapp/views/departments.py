"""部门：the county's departments and the status of their indicator sets."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from kb.models import Department, Indicator
from webapp.db import get_session

bp = Blueprint("departments", __name__)


@bp.get("/")
def index():
    """全县部门及其指标集状态。"""
    session = get_session()
    departments = session.scalars(
        select(Department).options(selectinload(Department.indicator_sets)).order_by(Department.code)
    ).all()
    counts = dict(session.execute(
        select(Indicator.department_id, func.count()).group_by(Indicator.department_id)
    ).all())
    return render_template("departments/index.html", departments=departments, counts=counts,
                           common_count=counts.get(None, 0))

"""指标使用情况 (for finance): most reused and never-used indicators per department, and
indicators of different departments that look like the same thing under different names."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from kb.services import goal_usage
from kb.vocab import Role
from webapp.db import get_session
from webapp.permissions import allow, register

bp = Blueprint("usage", __name__, url_prefix="/usage")
register({"usage.index": allow(Role.FINANCE, Role.EXPERT, Role.ADMIN)})


@bp.get("/")
def index():
    """各部门指标被绩效目标引用的情况；跨部门同义或近似指标。"""
    session = get_session()
    owner = request.args.get("department", "")
    usage = goal_usage.usage_by_department(session, top=10)
    shown = [u for u in usage if u.code == owner] if owner else usage
    pairs = goal_usage.near_duplicates(session)
    proposals = [row for row in goal_usage.proposed_rows(session)
                 if not owner or row.goal.project.department.code == owner]
    return render_template("goals/usage.html", usage=shown, owners=usage, owner=owner, pairs=pairs,
                           proposals=proposals, lint=goal_usage.lint_database(session, owner or None))

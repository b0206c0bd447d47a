"""目标申报: draft a project's performance goal from library indicators, check it live, submit,
review (部门＋财政＋专家), approve, and export the standard 申报表.

One blueprint; its routes live in ``drafting`` (list, new, add from the indicator page, edit, check),
``review`` (read, submit, review, decide) and ``exports`` (the 申报表 workbooks)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select

from kb import permissions
from kb.errors import PermissionDenied
from kb.models import BudgetProject, Department, PerformanceGoal
from kb.services import goals
from kb.vocab import Role
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.permissions import NOT_FOUND, SIGNED_IN, allow, register, register_scope


bp = Blueprint("goals", __name__, url_prefix="/goals")


@bp.app_template_filter("money")
def money(value: Any) -> str:
    """万元 amounts as people write them: 1200, 35.5, 0.75 (no float noise)."""
    if value is None or value == "":
        return ""
    try:
        return f"{float(value):.4f}".rstrip("0").rstrip(".")
    except (TypeError, ValueError):
        return str(value)


# The route table mirrors kb.permissions: an administrator neither drafts nor reviews goals.
DRAFTERS = (Role.DEPARTMENT, Role.FINANCE)
register({
    "goals.index": SIGNED_IN,
    "goals.new": allow(*DRAFTERS, write=True),
    "goals.view": allow(scope="goal"),
    "goals.edit": allow(*DRAFTERS, scope="goal", write=True),
    "goals.check": allow(*DRAFTERS, scope="goal"),
    "goals.submit": allow(*DRAFTERS, scope="goal", write=True),
    "goals.review": allow(Role.FINANCE, Role.EXPERT, write=True),
    "goals.decide": allow(Role.FINANCE, write=True),
    "goals.export": allow(scope="goal"),
    "goals.export_department": allow(scope="department"),
    "goals.add_indicator": allow(*DRAFTERS, write=True),
})


def _goal_scope(view_args: dict[str, Any]) -> object:
    department_id = get_session().scalar(
        select(BudgetProject.department_id).join(PerformanceGoal).where(PerformanceGoal.id == view_args.get("goal_id")))
    return NOT_FOUND if department_id is None else department_id


register_scope("goal", _goal_scope)
ROW_FIELDS = ("id", "code", "name", "level1", "level2", "nature", "operator", "target", "unit", "formula",
              "definition", "basis_note", "remarks")


def load_goal(goal_id: int) -> PerformanceGoal:
    """The goal (404) if the current user may read it (403 otherwise)."""
    goal = goals.get_goal(get_session(), goal_id)
    if not permissions.can_view_goal(current_actor(), goal):
        raise PermissionDenied("只能查看本部门的绩效目标。")
    return goal


def own_department() -> Department | None:
    actor = current_actor()
    return get_session().get(Department, actor.department_id) if actor.department_id else None


from webapp.views.goals import drafting, exports, review  # noqa: E402,F401  (routes attach to bp)

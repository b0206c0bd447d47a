"""部门：the county's departments, and one department's page (三定 functions, its set like the paper form)."""
from __future__ import annotations

from collections import OrderedDict

from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb.errors import NotFound
from kb.visibility import indicator_clause, visible_to
from kb.models import Department, Indicator
from kb.permissions import can_add_indicator, is_own_department
from kb.services.workflow import next_version_years
from kb.vocab import taxonomy
from webapp import lookups
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.templating import local_today

bp = Blueprint("departments", __name__, url_prefix="/departments")


def group_by_levels(indicators: list[Indicator]) -> OrderedDict[str, OrderedDict[str, list[Indicator]]]:
    """level1 → level2 → indicators, in the taxonomy's order (the paper form's layout)."""
    tree = taxonomy().levels
    order = {(level1, level2): (i, j) for i, level1 in enumerate(tree) for j, level2 in enumerate(tree[level1])}
    ranked = sorted(indicators, key=lambda ind: (order.get((ind.level1, ind.level2), (99, 99)), ind.position, ind.code))
    groups: OrderedDict[str, OrderedDict[str, list[Indicator]]] = OrderedDict()
    for indicator in ranked:
        groups.setdefault(indicator.level1, OrderedDict()).setdefault(indicator.level2, []).append(indicator)
    return groups


@bp.get("")
def index():
    """全县部门及其指标集状态。"""
    rows = lookups.department_summaries(get_session())
    common_count = get_session().query(Indicator).filter(Indicator.department_id.is_(None)).count()
    return render_template("departments/index.html", departments=rows, common_count=common_count)


@bp.get("/<code>")
def detail(code: str):
    """一个部门：三定职能与其指标集（按一级、二级指标分组）。"""
    session = get_session()
    department = session.scalar(
        select(Department).where(Department.code == code)
        .options(selectinload(Department.indicator_sets), selectinload(Department.children))
    )
    if department is None:
        raise NotFound(f"部门 {code} 不存在，请从部门列表进入。")
    # Another department's draft is not shown (issue 14 item 6, kb/visibility.py): the page keeps its
    # functions and set status, without the working copy's indicators.
    indicators = session.scalars(
        select(Indicator).where(Indicator.department_id == department.id,
                                indicator_clause(visible_to(session, current_actor())))
        .options(selectinload(Indicator.basis)).order_by(Indicator.position, Indicator.code)
    ).all()
    active = [i for i in indicators if i.is_active]
    retired = [i for i in indicators if not i.is_active]
    actor = current_actor()
    current = department.current_set
    # Its own frozen set: say so here, where the clerk lands, with the way on (issue 16).
    frozen = (current if current is not None and is_own_department(actor, department.id)
              and not can_add_indicator(actor, department) else None)
    return render_template(
        "departments/detail.html",
        department=department,
        current=current,
        frozen_set=frozen,
        start_years=next_version_years(frozen, local_today().year) if frozen else None,
        groups=group_by_levels(active),
        retired=retired,
        ordered=indicators,
        can_edit=can_add_indicator(actor, department),
    )

"""Editing indicators: add, edit (optimistic locking), retire/restore (never delete), reorder, copy.

Thin views: the permission table has already checked role and own department; the services check
again (draft status, finance-only common set) and raise Chinese errors.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from kb import permissions
from kb.errors import EditConflict, NotFound, ValidationFailed
from kb.models import Department, Indicator
from kb.services import personal
from kb.services.indicators import (
    create_indicator, get_indicator, reorder_indicators, restore_indicator, retire_indicator, update_indicator,
)
from kb.services.library import indicator_to_dict
from kb.vocab import BasisKind, Nature, taxonomy, units
from webapp.auth import current_actor, current_user
from webapp.db import get_session
from webapp.errors import record_denial
from webapp.forms import FIELD_LABELS, indicator_from_form, problems_by_field, version_from
from webapp.views.indicators import bp

EMPTY_INDICATOR = {"level1": "产出指标", "level2": "数量指标", "nature": "定量", "operator": "≥",
                   "basis": [{"kind": "政策文件", "title": "", "doc_no": ""}], "projects": [], "keywords": []}


def _department(code: str) -> Department:
    department = get_session().scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound(f"部门 {code} 不存在。")
    return department


def _form_page(*, data, problems=None, conflict=None, mode, department=None, indicator=None, status=200):
    return render_template(
        "indicators/form.html", data=data, problems=problems or {}, conflict=conflict, mode=mode,
        department=department, indicator=indicator, tree=taxonomy().levels, natures=[n.value for n in Nature],
        basis_kinds=[k.value for k in BasisKind], unit_names=_unit_names(), labels=FIELD_LABELS,
    ), status


def _unit_names() -> list[str]:
    return list(units().units)


def _create(department: Department | None):
    mode = "new" if department else "new_common"
    if request.method == "GET":
        return _form_page(data=dict(EMPTY_INDICATOR), mode=mode, department=department)
    data = indicator_from_form(request.form, with_code=True)
    session = get_session()
    try:
        indicator = create_indicator(session, current_actor(), data, department)
    except ValidationFailed as error:
        return _form_page(data=data, problems=problems_by_field(error), mode=mode, department=department, status=422)
    session.commit()
    flash(f"已新增指标 {indicator.code} {indicator.name}。", "success")
    return redirect(url_for("indicators.detail", code=indicator.code))


@bp.route("/departments/<code>/indicators/new", methods=["GET", "POST"])
def new(code: str):
    """在部门指标集中新增指标。"""
    department = _department(code)
    data = dict(EMPTY_INDICATOR)
    if request.method == "GET":
        data["code"] = personal.next_code(get_session(), department)
        return _form_page(data=data, mode="new", department=department)
    return _create(department)


@bp.route("/common/new", methods=["GET", "POST"])
def new_common():
    """新增共性指标（财政）。"""
    return _create(None)


def frozen_explanation(indicator: Indicator) -> str:
    current = indicator.department.current_set if indicator.department else None
    if current is not None and current.status.value == "certified":
        return (f"指标 {indicator.code} 所在的{indicator.department.name}指标集已审定，不能直接修改："
                "开始新版本后可修改（见下方“开始新版本”）。")
    if current is not None:
        return (f"指标 {indicator.code} 所在的指标集{current.status.label}，财政确认、专家审定期间不能修改；"
                "需要修改请联系财政退回。")
    return f"您没有修改指标 {indicator.code} 的权限。"


@bp.route("/indicators/<code>/edit", methods=["GET", "POST"])
def edit(code: str):
    """修改指标（两人同时修改时，后保存者会看到对方改了什么，不会覆盖）。"""
    session = get_session()
    indicator = get_indicator(session, code)
    if request.method == "GET":
        if not permissions.can_edit_indicator(current_actor(), indicator):
            # Don't open a full form whose save will be refused: say why, where the way on is offered.
            flash(frozen_explanation(indicator), "warning")
            return redirect(url_for("indicators.detail", code=code))
        data = indicator_to_dict(indicator)
        return _form_page(data=data, mode="edit", indicator=indicator, department=indicator.department)
    # Start from the stored indicator: fields the form does not show, and its state (retiring is a
    # separate action), stay as they are.
    current = indicator_to_dict(indicator)
    current.pop("code", None)
    data = {**current, **indicator_from_form(request.form, with_code=False), "state": indicator.state.value}
    expected = version_from(request.form)
    try:
        update_indicator(session, current_actor(), code, data, expected)
    except ValidationFailed as error:
        session.rollback()
        return _form_page(data={**data, "code": code}, problems=problems_by_field(error), mode="edit",
                          indicator=indicator, department=indicator.department, status=422)
    except EditConflict as conflict:
        session.rollback()
        fresh = get_indicator(session, code)
        changes = [{"field": FIELD_LABELS.get(name, name), "before": before, "after": after}
                   for name, (before, after) in conflict.changes.items()]
        message = (f"您打开的是第 {conflict.expected_version} 版，保存前已有人改成了第 {conflict.current_version} 版。"
                   "为避免覆盖别人的修改，这次没有保存。")
        record_denial(message, "save_conflict", "conflict")  # refused saves are audited (issue 14 item 10)
        return _form_page(data={**data, "code": code}, conflict={"message": message, "changes": changes},
                          mode="edit", indicator=fresh, department=fresh.department, status=409)
    session.commit()
    flash("已保存。", "success")
    return redirect(url_for("indicators.detail", code=code))


@bp.post("/indicators/<code>/retire")
def retire(code: str):
    """停用指标（出库；不删除，可恢复）。"""
    session = get_session()
    retire_indicator(session, current_actor(), code, version_from(request.form), request.form.get("reason", "").strip())
    session.commit()
    flash("指标已停用。它仍可查阅，需要时可恢复使用。", "success")
    return redirect(url_for("indicators.detail", code=code))


@bp.post("/indicators/<code>/restore")
def restore(code: str):
    """恢复使用已停用的指标。"""
    session = get_session()
    restore_indicator(session, current_actor(), code, version_from(request.form))
    session.commit()
    flash("指标已恢复使用。", "success")
    return redirect(url_for("indicators.detail", code=code))


def _reorder(department: Department | None):
    session = get_session()
    department_id = department.id if department else None
    indicators = session.scalars(
        select(Indicator).where(Indicator.department_id == department_id if department_id is not None
                                else Indicator.department_id.is_(None)).order_by(Indicator.position, Indicator.code)
    ).all()
    if request.method == "POST":
        reorder_indicators(session, current_actor(), department, request.form.getlist("order"))
        session.commit()
        flash("顺序已保存。", "success")
        if department is None:
            return redirect(url_for("indicators.common"))
        return redirect(url_for("departments.detail", code=department.code))
    return render_template("indicators/reorder.html", indicators=indicators, department=department)


@bp.route("/departments/<code>/reorder", methods=["GET", "POST"])
def reorder(code: str):
    """调整部门指标集的顺序。"""
    return _reorder(_department(code))


@bp.route("/common/reorder", methods=["GET", "POST"])
def reorder_common():
    """调整共性指标的顺序（财政）。"""
    return _reorder(None)


@bp.post("/indicators/<code>/copy")
def copy(code: str):
    """复制到我的指标集：以新编码加入本部门（草稿）指标集，然后修改指标值。"""
    session = get_session()
    user = current_user()
    if permissions.sees_only_own_department(current_actor()):
        department = user.department
    else:
        department = session.scalar(select(Department).where(Department.code == request.form.get("department", "")))
    indicator = personal.copy_indicator(session, current_actor(), code, department)
    session.commit()
    flash(f"已复制到 {department.name} 的指标集，新编码 {indicator.code}。请核对指标值和来源后保存。", "success")
    return redirect(url_for("indicators.edit", code=indicator.code))

"""变更申请：departments propose 入库/修改/出库 of common indicators; finance decides
(routes of the ``workflow`` blueprint)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from kb import permissions
from kb.errors import PermissionDenied, ValidationFailed
from kb.models.workflow import ChangeKind, ChangeStatus
from kb.services import change_requests as service
from kb.services.indicators import get_indicator
from kb.services.library import indicator_to_dict
from kb.vocab import BasisKind, Nature, Role, taxonomy, units
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.forms import indicator_from_form, problems_by_field
from webapp.permissions import NOT_FOUND, allow, register, register_scope
from webapp.views.workflow import bp


def _request_scope(view_args) -> object:
    from sqlalchemy import select

    from kb.models import ChangeRequest

    row = get_session().execute(
        select(ChangeRequest.id, ChangeRequest.department_id).where(ChangeRequest.id == view_args.get("request_id"))
    ).first()
    return NOT_FOUND if row is None else row.department_id


register_scope("change_request", _request_scope)
register({
    "workflow.changes": allow(Role.DEPARTMENT, Role.FINANCE, Role.ADMIN),
    "workflow.new_change": allow(Role.DEPARTMENT, write=True),
    "workflow.change_detail": allow(Role.DEPARTMENT, Role.FINANCE, Role.ADMIN, scope="change_request"),
    "workflow.decide_change": allow(Role.FINANCE, write=True),
    "workflow.withdraw_change": allow(Role.DEPARTMENT, scope="change_request", write=True),
})


@bp.get("/changes")
def changes():
    """变更申请列表（部门看本部门的，财政看全部）。"""
    status = request.args.get("status")
    status = ChangeStatus(status) if status in {s.value for s in ChangeStatus} else None
    items = service.list_change_requests(get_session(), current_actor(), status)
    return render_template("workflow/changes.html", items=items, status=status, statuses=list(ChangeStatus))


def _form_context(**extra):
    return {"tree": {k: list(v) for k, v in taxonomy().levels.items()}, "natures": [n.value for n in Nature],
            "basis_kinds": [k.value for k in BasisKind], "unit_names": sorted(units().units), "kinds": list(ChangeKind),
            **extra}


@bp.route("/changes/new", methods=["GET", "POST"])
def new_change():
    """提出入库、修改或出库申请。"""
    session = get_session()
    kind = request.values.get("kind", "add")
    if kind not in {k.value for k in ChangeKind}:
        kind = "add"
    code = request.values.get("code", "").strip()
    if request.method == "GET":
        data = {}
        if code:
            indicator = get_indicator(session, code)
            data = indicator_to_dict(indicator)
        return render_template("workflow/change_form.html", **_form_context(kind=kind, code=code, data=data,
                                                                           reason="", problems={}))
    data = indicator_from_form(request.form, with_code=True) if kind != "retire" else None
    reason = request.form.get("reason", "")
    try:
        created = service.propose_change(session, current_actor(), kind, code or (data or {}).get("code", ""),
                                         reason, data)
    except ValidationFailed as error:
        session.rollback()
        return render_template("workflow/change_form.html", **_form_context(
            kind=kind, code=code, data=data or {}, reason=reason, problems=problems_by_field(error))), 422
    session.commit()
    flash("申请已提交，财政处理后会在“变更申请”中显示结果。", "success")
    return redirect(url_for("workflow.change_detail", request_id=created.id))


@bp.get("/changes/<int:request_id>")
def change_detail(request_id: int):
    """一条变更申请：申请内容、与现有指标的差异、处理结果。"""
    session = get_session()
    item = service.get_change_request(session, request_id)
    if not permissions.can_view_change(current_actor(), item):
        raise PermissionDenied("部门用户只能查看本部门提出的申请。")
    current = None
    if item.kind != ChangeKind.ADD:
        current = indicator_to_dict(get_indicator(session, item.indicator_code))
    return render_template("workflow/change_detail.html", item=item, current=current,
                           changes=service.proposed_changes(session, item))


@bp.post("/changes/<int:request_id>/decide")
def decide_change(request_id: int):
    """财政采纳或不予采纳。"""
    session = get_session()
    item = service.get_change_request(session, request_id)
    decision = request.form.get("decision")
    if decision == "accept":
        service.accept_change(session, current_actor(), item, request.form.get("note", ""))
        message = "已采纳并更新共性指标库。"
    elif decision == "decline":
        service.decline_change(session, current_actor(), item, request.form.get("note", ""))
        message = "已记录不予采纳及理由。"
    else:
        abort(400)
    session.commit()
    flash(message, "success")
    return redirect(url_for("workflow.change_detail", request_id=request_id))


@bp.post("/changes/<int:request_id>/withdraw")
def withdraw_change(request_id: int):
    """部门撤回尚未处理的申请。"""
    session = get_session()
    service.withdraw_change(session, current_actor(), service.get_change_request(session, request_id))
    session.commit()
    flash("申请已撤回。", "success")
    return redirect(url_for("workflow.changes"))

"""A round's projects, filling one in (budget executed, per-indicator values and lights) and the bulk
import of executed budgets from the budget system's Excel."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from kb import permissions
from kb.errors import ImportFailed, PermissionDenied, ValidationFailed
from kb.models.monitoring import Outlook
from kb.services import monitoring
from kb.services.monitoring_import import import_execution
from kb.services.monitoring_lights import percent_text, time_progress
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.views.monitoring import bp, load_round, visible_department

INDICATOR_FIELDS = ("value_to_date", "expected", "outlook", "deviation_reason", "corrective_measure")


@bp.get("/<int:round_id>", endpoint="round")
def round_page(round_id: int):
    """一轮监控的项目清单与填报情况（部门：本部门项目）。"""
    session, actor = get_session(), current_actor()
    monitoring_round = load_round(round_id)
    entries = monitoring.round_entries(session, monitoring_round, visible_department())
    return render_template("monitoring/round.html", round=monitoring_round, entries=entries,
                           progress=percent_text(time_progress(monitoring_round.cut_off)),
                           can_manage=permissions.can_manage_monitoring(actor),
                           can_import=monitoring_round.is_open and (permissions.can_manage_monitoring(actor)
                                                                    or permissions.is_department(actor)),
                           import_problems=[], skipped=[])


def _load_entry(round_id: int, entry_id: int):
    monitoring_round = load_round(round_id)
    entry = monitoring.get_entry(get_session(), monitoring_round, entry_id)
    if not permissions.can_view_monitoring(current_actor(), entry.department_id):
        raise PermissionDenied("部门用户只能查看本部门项目的监控情况。")
    return monitoring_round, entry


def _render_entry(monitoring_round, entry, problems=(), data=None, status=200):
    actor = current_actor()
    return render_template("monitoring/entry.html", round=monitoring_round, entry=entry, problems=list(problems),
                           data=data, outlooks=list(Outlook),
                           progress=percent_text(time_progress(monitoring_round.cut_off)),
                           can_fill=permissions.can_fill_monitoring(actor, monitoring_round, entry.department_id),
                           percent_text=percent_text), status


@bp.get("/<int:round_id>/entries/<int:entry_id>")
def entry(round_id: int, entry_id: int):
    """一个项目的监控表：预算执行与各项指标的完成情况（可填报时为表单）。"""
    return _render_entry(*_load_entry(round_id, entry_id))


@bp.post("/<int:round_id>/entries/<int:entry_id>")
def fill(round_id: int, entry_id: int):
    """保存一个项目的监控填报并亮灯。"""
    session = get_session()
    monitoring_round, entry = _load_entry(round_id, entry_id)
    form = request.form
    indicators = {item.id: {key: form.get(f"ind-{item.id}-{key}", "") for key in INDICATOR_FIELDS}
                  for item in entry.indicators}
    try:
        monitoring.fill_entry(session, current_actor(), entry, budget=form.get("budget"),
                              executed=form.get("executed"), indicators=indicators)
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        monitoring_round, entry = _load_entry(round_id, entry_id)
        return _render_entry(monitoring_round, entry, error.problems, form, 422)
    flash(f"已保存“{entry.project.name}”：预算执行{_label(entry.budget_light)}，目标完成{_label(entry.goal_light)}。",
          "success")
    return redirect(url_for("monitoring.round", round_id=round_id))


def _label(light) -> str:
    return light.label if light is not None else "未亮灯"


@bp.post("/<int:round_id>/import", endpoint="import_execution")
def import_execution_view(round_id: int):
    """从预算一体化系统导出的执行情况表批量导入执行数（全部成功才写入）。"""
    session, actor = get_session(), current_actor()
    monitoring_round = load_round(round_id)
    upload = request.files.get("file")
    content, filename = (upload.read(), upload.filename or "执行情况表.xlsx") if upload else (b"", "执行情况表.xlsx")
    try:
        result = import_execution(session, actor, monitoring_round, content, filename)
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        entries = monitoring.round_entries(session, monitoring_round, visible_department())
        return render_template("monitoring/round.html", round=monitoring_round, entries=entries,
                               progress=percent_text(time_progress(monitoring_round.cut_off)),
                               can_manage=permissions.can_manage_monitoring(actor), can_import=True,
                               import_problems=error.problems,
                               skipped=error.warnings if isinstance(error, ImportFailed) else []), 422
    message = f"已导入 {result.updated} 个项目的执行数。"
    if result.skipped:
        message += f"另有 {len(result.skipped)} 行不在本轮范围内，已跳过。"
    flash(message, "success")
    return redirect(url_for("monitoring.round", round_id=round_id))

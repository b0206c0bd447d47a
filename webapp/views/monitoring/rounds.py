"""运行监控 rounds: the list, opening (amount threshold or the warned projects of a round), closing,
the one-action follow-up round, and the light rules finance may change."""
from __future__ import annotations

import datetime as dt

from flask import Response, flash, redirect, render_template, request, url_for

from kb import permissions
from kb.errors import Problem, ValidationFailed
from kb.models.monitoring import Light, Outlook
from kb.services import monitoring
from kb.services.monitoring_rules import current_rules, rules_yaml, save_rules
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.views.monitoring import bp, load_round


def parse_date(text: str | None, field: str = "cut_off") -> dt.date | None:
    """A date typed as 2024-07-31 (an empty one is ``None``); a wrong one is a located problem."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed([Problem(f"“{text}”不是有效日期，请按 2024-07-31 的格式填写。", field=field)]) from None


def _amount(text: str | None) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValidationFailed([Problem(f"金额门槛“{text}”不是数字（万元）。", field="min_amount")]) from None


@bp.get("/")
def index():
    """运行监控：各轮次列表；财政可开启新一轮。"""
    session, actor = get_session(), current_actor()
    version, rules = current_rules(session)
    return render_template("monitoring/index.html", rounds=monitoring.list_rounds(session),
                           can_manage=permissions.can_manage_monitoring(actor), rules=rules, rules_version=version,
                           data={"min_amount": rules.min_amount}, problems=[])


@bp.post("/rounds")
def open_round():
    """开启监控轮次（下达监控任务）。"""
    session, actor = get_session(), current_actor()
    data = request.form.to_dict()
    try:
        monitoring_round = monitoring.open_round(session, actor, name=data.get("name", ""),
                                                 cut_off=parse_date(data.get("cut_off")),
                                                 min_amount=_amount(data.get("min_amount")))
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        version, rules = current_rules(session)
        return render_template("monitoring/index.html", rounds=monitoring.list_rounds(session), can_manage=True,
                               rules=rules, rules_version=version, data=data, problems=error.problems), 422
    flash(f"已开启“{monitoring_round.name}”，共 {len(monitoring_round.entries)} 个项目待部门填报。", "success")
    return redirect(url_for("monitoring.round", round_id=monitoring_round.id))


@bp.post("/<int:round_id>/close")
def close_round(round_id: int):
    """结束监控轮次。"""
    session = get_session()
    monitoring_round = load_round(round_id)
    monitoring.close_round(session, current_actor(), monitoring_round)
    session.commit()
    flash(f"“{monitoring_round.name}”已结束填报。", "success")
    return redirect(url_for("monitoring.board", round_id=round_id))


@bp.post("/<int:round_id>/follow-up")
def follow_up(round_id: int):
    """对本轮预警项目再次下达监控任务（一步完成）。"""
    session = get_session()
    source = load_round(round_id)
    try:
        monitoring_round = monitoring.follow_up_round(session, current_actor(), source,
                                                      cut_off=parse_date(request.form.get("cut_off")),
                                                      name=request.form.get("name", ""))
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        for problem in error.problems:
            flash(problem.message, "error")
        return redirect(url_for("monitoring.board", round_id=round_id))
    flash(f"已对 {len(monitoring_round.entries)} 个预警项目开启“{monitoring_round.name}”。", "success")
    return redirect(url_for("monitoring.round", round_id=monitoring_round.id))


@bp.get("/rules")
def rules():
    """亮灯规则（财政可修改；修改记入审计日志，只影响之后开启的轮次）。"""
    version, current = current_rules(get_session())
    return render_template("monitoring/rules.html", rules=current, version=version, problems=[], data=None,
                           outlooks=list(Outlook), lights=list(Light),
                           can_change=permissions.can_change_monitoring_rules(current_actor()))


def _rules_form(form) -> dict:
    return {
        "scope": {"min_amount": form.get("min_amount", "")},
        "budget": {"yellow_gap": form.get("yellow_gap", ""), "red_gap": form.get("red_gap", "")},
        "goal": {"green_completion": form.get("green_completion", ""),
                 "yellow_completion": form.get("yellow_completion", ""),
                 "qualitative": {outlook.value: form.get(f"qualitative_{outlook.name.lower()}", "")
                                 for outlook in Outlook}},
        "warning_lights": form.getlist("warning_lights"),
    }


@bp.post("/rules", endpoint="save_rules")
def save_rules_view():
    """保存亮灯规则的新版本。"""
    session, actor = get_session(), current_actor()
    try:
        version = save_rules(session, actor, _rules_form(request.form), note=request.form.get("note", ""))
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        number, current = current_rules(session)
        return render_template("monitoring/rules.html", rules=current, version=number, problems=error.problems,
                               data=request.form, outlooks=list(Outlook), lights=list(Light), can_change=True), 422
    flash(f"亮灯规则已保存为第 {version.id} 版，之后开启的监控轮次按新规则亮灯。", "success")
    return redirect(url_for("monitoring.rules"))



@bp.get("/rules.yaml")
def rules_export():
    """导出当前亮灯规则（monitoring_rules.yaml 格式）。"""
    _, current = current_rules(get_session())
    return Response(rules_yaml(current), mimetype="text/yaml; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=monitoring_rules.yaml"})

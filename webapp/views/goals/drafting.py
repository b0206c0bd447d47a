"""目标申报 drafting: the list, a new project, adding indicators, the editor and the live check."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from kb import permissions, quality, vocab
from kb.errors import Problem, ValidationFailed
from kb.models import Department, PerformanceGoal
from kb.models.goal import GoalStatus, ProjectKind
from kb.services import goal_usage, goals, indicator_values, query_log
from kb.services.indicators import get_indicator
from kb.searching import recommend_indicators, search_indicators
from kb.spreadsheets import goal_forms
from webapp import lookups
from kb.visibility import hidden_for
from webapp.auth import current_actor
from webapp.db import get_search, get_session
from webapp.query_logging import entry_of, log_search
from webapp.views.goals import ROW_FIELDS, bp, load_goal, own_department
from webapp.views.goals.review import submit_for_review


@bp.get("/")
def index():
    """绩效目标列表（部门：本部门；财政、专家：全县），以及“加入申报”的去处。"""
    session, actor = get_session(), current_actor()
    year = request.args.get("year", type=int)
    status = request.args.get("status") or None
    department = own_department() if permissions.sees_only_own_department(actor) else None
    if department is None and request.args.get("department"):
        department = session.scalar(select(Department).where(Department.code == request.args["department"]))
    items = goals.goals_of(session, department=department, year=year,
                           status=GoalStatus(status) if status in GoalStatus.labels() else None)
    indicator = None
    if request.args.get("indicator"):
        indicator = get_indicator(session, request.args["indicator"])
    departments = session.scalars(select(Department).order_by(Department.code)).all() if not permissions.sees_only_own_department(actor) else []
    return render_template(
        "goals/index.html", goals=items, year=year, status=status, department=department, departments=departments,
        statuses=GoalStatus.labels(), indicator=indicator, editable=goals.editable_goals(session, actor),
        years=sorted({g.project.year for g in items} | {dt.date.today().year + 1}, reverse=True),
        can_draft=permissions.can_draft_goal(actor),
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    """新建项目并开始编制绩效目标（可粘贴项目说明，系统据此推荐指标）。"""
    session, actor = get_session(), current_actor()
    data: dict[str, Any] = {"year": dt.date.today().year + 1, "kind": ProjectKind.NEW.value,
                            "indicator": request.args.get("indicator", "")}
    problems: list = []
    if request.method == "POST":
        data = request.form.to_dict()
        department = own_department() if permissions.sees_only_own_department(actor) else session.scalar(
            select(Department).where(Department.code == data.get("department", "")))
        try:
            if department is None:
                raise ValidationFailed([quality_problem("请选择项目所属部门。", "department")])
            goal = goals.create_goal(session, actor, department, _year(data.get("year")), data)
            if data.get("indicator"):
                goals.add_indicators(session, actor, goal, [data["indicator"]])
            session.commit()
        except ValidationFailed as error:
            session.rollback()
            problems = error.problems
        else:
            flash("项目已建立。下方按项目说明推荐了指标，勾选后点“加入选中指标”。", "success")
            return redirect(url_for("goals.edit", goal_id=goal.id))
    departments = session.scalars(select(Department).order_by(Department.code)).all() if not permissions.sees_only_own_department(actor) else []
    return render_template("goals/new.html", data=data, problems=problems, departments=departments,
                           categories=quality.project_categories(), kinds=[k.value for k in ProjectKind]), \
        (422 if problems else 200)


def quality_problem(message: str, field: str) -> Problem:
    return Problem(message, "绩效目标", "项目信息", field)


def _year(value: Any) -> int:
    try:
        year = int(value)
    except (TypeError, ValueError):
        year = 0
    if not 2000 <= year <= 2100:
        raise ValidationFailed([quality_problem("预算年度应为四位数字，例如 2025。", "year")])
    return year


@bp.post("/add-indicator")
def add_indicator():
    """把一个库内指标加入某个草稿绩效目标（指标详情页的“加入申报”）。"""
    session, actor = get_session(), current_actor()
    code = request.form.get("code", "").strip()
    goal_id = request.form.get("goal_id", type=int)
    if goal_id is None:
        editable = goals.editable_goals(session, actor)
        if len(editable) != 1:
            return redirect(url_for("goals.index", indicator=code))
        goal = editable[0]
    else:
        goal = load_goal(goal_id)
    added = goals.add_indicators(session, actor, goal, [code])
    session.commit()
    flash(f"已加入指标 {code}。" if added else f"指标 {code} 已在该绩效目标中。", "success" if added else "info")
    return redirect(url_for("goals.edit", goal_id=goal.id, _anchor="rows"))


# --- drafting ---------------------------------------------------------------------------------

def form_rows(form) -> list[dict[str, Any]]:
    """The indicator rows posted by the drafting form, in page order, minus the one being deleted."""
    lists = {field: form.getlist(f"row_{field}") for field in ROW_FIELDS}
    keys = form.getlist("row_key")
    delete = (form.get("action") or "").removeprefix("delete:") if (form.get("action") or "").startswith("delete:") else None
    rows = []
    for index, key in enumerate(keys):
        if key == delete:
            continue
        rows.append({field: (values[index] if index < len(values) else "") for field, values in lists.items()})
    return rows


def form_goal(form) -> dict[str, Any]:
    """The plain form of the goal from the drafting form."""
    project = {field: form.get(field, "") for field in goals.PROJECT_FIELDS}
    return {"project": project, "long_term_objective": form.get("long_term_objective", ""),
            "annual_objective": form.get("annual_objective", ""), "rows": form_rows(form)}


@bp.route("/<int:goal_id>/edit", methods=["GET", "POST"])
def edit(goal_id: int):
    """编制页面：项目信息、绩效目标、指标表；推荐、检索、典型组合；实时质量检查。"""
    session, actor = get_session(), current_actor()
    goal = load_goal(goal_id)
    if not permissions.can_edit_goal(actor, goal):
        flash(f"该绩效目标处于“{goal.status.label}”状态，不能修改。", "warning")
        return redirect(url_for("goals.view", goal_id=goal.id))
    if request.method == "GET":
        return _edit_page(goal, goals.goal_to_dict(goal))
    action = request.form.get("action", "save")
    data = form_goal(request.form)
    try:
        goals.save_goal(session, actor, goal, data, request.form.get("row_version", type=int))
        _apply_action(session, actor, goal, action)
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        return _edit_page(goal, {**goals.goal_to_dict(goal), **data}, problems=error.problems, status=422)
    if action == "submit":
        return submit_for_review(goal)
    if action == "search":
        return redirect(url_for("goals.edit", goal_id=goal.id, q=request.form.get("q", ""), _anchor="search"))
    flash(_ACTION_MESSAGES.get(action.split(":")[0], "已保存。"), "success")
    return redirect(url_for("goals.edit", goal_id=goal.id, _anchor="rows" if action != "save" else ""))


_ACTION_MESSAGES = {"save": "已保存。", "add": "已加入选中的指标，并带出指标库中的参考值，请按本项目实际调整。",
                    "bundle": "已加入典型指标组合，请按本项目实际调整指标值。", "delete": "已删除该行。",
                    "propose": "已建议将该自拟指标纳入本部门指标集。", "sort": "已按一级、二级指标排好顺序。",
                    "custom": "已新增一行自拟指标，请填写。"}


def _apply_action(session, actor, goal: PerformanceGoal, action: str) -> None:
    if action == "add":
        goals.add_indicators(session, actor, goal, request.form.getlist("pick"))
        _log_copied(session)
    elif action == "bundle" and request.form.get("bundle"):
        goals.add_bundle(session, actor, goal, request.form["bundle"])
    elif action.startswith("propose:"):
        row_id = int(action.removeprefix("propose:") or 0)
        goals.propose_row(session, actor, goal, row_id)
    elif action == "sort":
        rows = goal_forms.ordered_rows(goals.goal_to_dict(goal)["rows"])
        goals.save_goal(session, actor, goal, {"rows": rows})
    elif action == "custom":
        rows = goals.goal_to_dict(goal)["rows"] + [{"name": "（请填写指标名称）", "level1": "产出指标",
                                                    "level2": "数量指标", "nature": "定量", "operator": "≥",
                                                    "target": "", "unit": ""}]
        goals.save_goal(session, actor, goal, {"rows": rows})


def _log_copied(session) -> None:
    """检索日志: a search on this page was used when one of its hits is added to the goal (copied), at the rank it
    was shown; the page carries the search's signed reference and the codes it listed."""
    entry_id = entry_of(request.form.get("ql", ""))
    shown = request.form.get("shown", "").split()
    ranks = [shown.index(code) + 1 for code in request.form.getlist("pick") if code in shown]
    if entry_id is not None and ranks:
        query_log.record_open(session, entry_id, min(ranks))


def _edit_page(goal: PerformanceGoal, data: dict[str, Any], problems=None, status: int = 200):
    session = get_session()
    department = goal.project.department
    present = {row.get("code") for row in data["rows"] if row.get("code")}
    text = f"{data['project'].get('name', '')} {data['project'].get('description', '')}".strip()
    # Without a description yet, the department's own set and the 共性指标 are what fits best.
    recommended = recommend_indicators(session, get_search(), text, department=department.code, limit=30,
                                       hidden=hidden_for(session, current_actor()))["hits"]
    query = request.args.get("q", "").strip()
    searched = search_indicators(session, get_search(), query, limit=20,
                                 hidden=hidden_for(session, current_actor())) if query else {"hits": [], "total": 0}
    found = searched["hits"]
    # Logged like a search on the search page (a form that failed its checks shows the same search again).
    log_ref = log_search("page", query, {}, searched["total"]) if query and request.method == "GET" else None
    codes = {hit["code"] for hit in recommended + found}
    bundles = goals.typical_bundles(session)
    bundles.sort(key=lambda b: (b.department_code != department.code, b.department_code or "", b.project_type))
    suggested = _closest_bundle(bundles, data["project"].get("name", ""))
    names = lookups.department_names(session)
    for index, row in enumerate(data["rows"]):
        row.setdefault("key", str(row.get("id") or f"new-{index}"))
    return render_template(
        "goals/edit.html", goal=goal, data=data, problems=problems or [],
        findings=goals.check(session, data), recommended=_grouped([h for h in recommended if h["code"] not in present]),
        found=[h for h in found if h["code"] not in present], query=query, log_ref=log_ref, bundles=bundles, department_names=names,
        usage=goal_usage.usage_counts(session, codes), taxonomy=vocab.taxonomy().levels, operators=vocab.OPERATORS,
        units=list(vocab.units().units), categories=quality.project_categories(),
        kinds=[k.value for k in ProjectKind], comments={row.id: row.comments for row in goal.rows},
        suggested_bundle=suggested, history=indicator_values.history_of_draft(session, data),
    ), status


def _closest_bundle(bundles: list[goals.Bundle], project_name: str) -> goals.Bundle | None:
    """The typical bundle whose project type reads most like this project's name (the first of equals:
    the list puts the department's own bundles first)."""
    name = re.sub(r"^\d{4}\s*年(度)?", "", project_name or "")
    best, score = None, 0.0
    for bundle in bundles if name else []:
        similarity = goal_usage.similarity(name, bundle.project_type)
        if similarity > score:
            best, score = bundle, similarity
    return best if score >= 0.6 else None


def _grouped(hits: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Hits grouped level1 → level2 in the taxonomy's order (best first inside a group)."""
    levels = vocab.taxonomy().levels
    groups: dict[str, dict[str, list]] = {level1: {level2: [] for level2 in level2s} for level1, level2s in levels.items()}
    for hit in hits:
        groups.setdefault(hit["level1"], {}).setdefault(hit["level2"], []).append(hit)
    return {l1: {l2: items for l2, items in l2s.items() if items} for l1, l2s in groups.items()
            if any(l2s.values())}


@bp.post("/<int:goal_id>/check")
def check(goal_id: int):
    """实时质量检查（JSON）：提交页面上尚未保存的内容，返回每条问题、说明和修改建议。"""
    goal = load_goal(goal_id)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify({"message": "请求内容应为 JSON。"}), 400
    rows = [row for row in payload.get("rows") or [] if isinstance(row, dict)]
    project = payload.get("project") if isinstance(payload.get("project"), dict) else {}
    # Department and year are not on the form; the checks against last year's actual need them.
    draft = {"project": {**project, "department": {"code": goal.project.department.code}, "year": goal.project.year},
             "long_term_objective": str(payload.get("long_term_objective") or ""),
             "annual_objective": str(payload.get("annual_objective") or ""),
             "rows": [{k: str(v or "") for k, v in row.items()} for row in rows]}
    findings = goals.check(get_session(), draft)
    errors = sum(f.is_error for f in findings)
    return jsonify({"findings": [f.to_dict() for f in findings], "errors": errors,
                    "warnings": len(findings) - errors})

"""目标申报: draft a project's performance goal from library indicators, check it live, submit,
review (部门＋财政＋专家), approve, and export the standard 申报表."""
from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from kb import goal_forms, quality, vocab
from kb.errors import NotFound, PermissionDenied, Problem, ValidationFailed
from kb.models import BudgetProject, Department, PerformanceGoal
from kb.models.goal import GOAL_STATUS_LABELS, GoalStatus, ProjectKind, Verdict
from kb.services import goal_reviews, goal_usage, goals
from kb.services.indicators import get_indicator
from kb.searching import recommend_indicators, search_indicators
from webapp import lookups
from webapp.auth import current_actor
from webapp.db import get_search, get_session
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


DRAFTERS = ("department", "finance", "admin")
register({
    "goals.index": SIGNED_IN,
    "goals.new": allow(*DRAFTERS, write=True),
    "goals.view": allow(scope="goal"),
    "goals.edit": allow(*DRAFTERS, scope="goal", write=True),
    "goals.check": allow(*DRAFTERS, scope="goal"),
    "goals.submit": allow(*DRAFTERS, scope="goal", write=True),
    "goals.review": allow("finance", "expert", "admin", write=True),
    "goals.decide": allow("finance", "admin", write=True),
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


def _load(goal_id: int) -> PerformanceGoal:
    goal = goals.get_goal(get_session(), goal_id)
    if not goals.can_view_goal(current_actor(), goal):
        raise PermissionDenied("只能查看本部门的绩效目标。")
    return goal


def _own_department() -> Department | None:
    actor = current_actor()
    return get_session().get(Department, actor.department_id) if actor.department_id else None


# --- list, create, add from the indicator page ----------------------------------------------

@bp.get("/")
def index():
    """绩效目标列表（部门：本部门；财政、专家：全县），以及“加入申报”的去处。"""
    session, actor = get_session(), current_actor()
    year = request.args.get("year", type=int)
    status = request.args.get("status") or None
    department = _own_department() if actor.role == "department" else None
    if department is None and request.args.get("department"):
        department = session.scalar(select(Department).where(Department.code == request.args["department"]))
    items = goals.goals_of(session, department=department, year=year,
                           status=GoalStatus(status) if status in GOAL_STATUS_LABELS else None)
    indicator = None
    if request.args.get("indicator"):
        indicator = get_indicator(session, request.args["indicator"])
    departments = session.scalars(select(Department).order_by(Department.code)).all() if actor.role != "department" else []
    return render_template(
        "goals/index.html", goals=items, year=year, status=status, department=department, departments=departments,
        statuses=GOAL_STATUS_LABELS, indicator=indicator, editable=goals.editable_goals(session, actor),
        years=sorted({g.project.year for g in items} | {dt.date.today().year + 1}, reverse=True),
        can_draft=actor.role in DRAFTERS,
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
        department = _own_department() if actor.role == "department" else session.scalar(
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
    departments = session.scalars(select(Department).order_by(Department.code)).all() if actor.role != "department" else []
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
        goal = _load(goal_id)
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
    goal = _load(goal_id)
    if not goals.can_edit_goal(actor, goal):
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
        return _submit(goal)
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


def _submit(goal: PerformanceGoal):
    session, actor = get_session(), current_actor()
    try:
        warnings = goal_reviews.submit_goal(session, actor, goal)
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        flash(f"已保存，但还没有提交：还有 {len(error.problems)} 处必须改正的问题（见右侧“质量检查”）。", "error")
        return redirect(url_for("goals.edit", goal_id=goal.id))
    note = f"另有 {len(warnings)} 条提示，评审时会关注。" if warnings else ""
    flash(f"已提交评审。{note}", "success")
    return redirect(url_for("goals.view", goal_id=goal.id))


def _edit_page(goal: PerformanceGoal, data: dict[str, Any], problems=None, status: int = 200):
    session = get_session()
    department = goal.project.department
    present = {row.get("code") for row in data["rows"] if row.get("code")}
    text = f"{data['project'].get('name', '')} {data['project'].get('description', '')}".strip()
    # Without a description yet, the department's own set and the 共性指标 are what fits best.
    recommended = recommend_indicators(session, get_search(), text, department=department.code, limit=30)["hits"]
    query = request.args.get("q", "").strip()
    found = search_indicators(session, get_search(), query, limit=20)["hits"] if query else []
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
        found=[h for h in found if h["code"] not in present], query=query, bundles=bundles, department_names=names,
        usage=goals.usage_counts(session, codes), taxonomy=vocab.taxonomy().levels, operators=vocab.OPERATORS,
        units=list(vocab.units().units), categories=quality.project_categories(),
        kinds=[k.value for k in ProjectKind], comments={row.id: row.comments for row in goal.rows},
        suggested_bundle=suggested,
    ), status


def _closest_bundle(bundles: list[goals.Bundle], project_name: str) -> str:
    """The typical bundle whose project type reads most like this project's name (or "")."""
    name = re.sub(r"^\d{4}\s*年(度)?", "", project_name or "")
    scored = [(goal_usage.similarity(name, b.project_type), b.project_type) for b in bundles if name]
    best = max(scored, default=(0.0, ""))
    return best[1] if best[0] >= 0.6 else ""


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
    _load(goal_id)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify({"message": "请求内容应为 JSON。"}), 400
    rows = [row for row in payload.get("rows") or [] if isinstance(row, dict)]
    draft = {"project": payload.get("project") if isinstance(payload.get("project"), dict) else {},
             "long_term_objective": str(payload.get("long_term_objective") or ""),
             "annual_objective": str(payload.get("annual_objective") or ""),
             "rows": [{k: str(v or "") for k, v in row.items()} for row in rows]}
    findings = goals.check(get_session(), draft)
    errors = sum(f.is_error for f in findings)
    return jsonify({"findings": [f.to_dict() for f in findings], "errors": errors,
                    "warnings": len(findings) - errors})


# --- review -------------------------------------------------------------------------------------

@bp.get("/<int:goal_id>")
def view(goal_id: int):
    """绩效目标（只读）：指标表、逐行评审意见、评审记录；评审、退回、审定。"""
    session, actor = get_session(), current_actor()
    goal = _load(goal_id)
    data = goal.frozen if goal.status == GoalStatus.APPROVED and goal.frozen else goals.goal_to_dict(goal)
    return render_template(
        "goals/view.html", goal=goal, data=data, findings=goals.check(session, data),
        can_edit=goals.can_edit_goal(actor, goal), can_review=goal_reviews.can_review_goal(actor, goal),
        can_decide=goal_reviews.can_decide_goal(actor, goal), verdicts=list(Verdict),
        comments={row.id: row.comments for row in goal.rows},
    )


@bp.post("/<int:goal_id>/submit")
def submit(goal_id: int):
    """提交评审（有必须改正的问题时不提交，并说明原因）。"""
    return _submit(_load(goal_id))


@bp.post("/<int:goal_id>/review")
def review(goal_id: int):
    """财政或专家的评审：审核结论（优/良/中/差）、总体意见、逐行意见。"""
    session = get_session()
    goal = _load(goal_id)
    comments = {int(key.removeprefix("comment_")): value for key, value in request.form.items()
                if key.startswith("comment_") and key.removeprefix("comment_").isdigit()}
    goal_reviews.review_goal(session, current_actor(), goal, request.form.get("verdict", ""),
                      request.form.get("summary", ""), comments)
    session.commit()
    flash("评审意见已记录。", "success")
    return redirect(url_for("goals.view", goal_id=goal.id))


@bp.post("/<int:goal_id>/decide")
def decide(goal_id: int):
    """财政决定：退回修改，或审定（冻结）。"""
    session, actor = get_session(), current_actor()
    goal = _load(goal_id)
    if request.form.get("decision") == "approve":
        goal_reviews.approve_goal(session, actor, goal)
        message = "已审定，绩效目标已冻结，可导出申报表。"
    elif request.form.get("decision") == "return":
        goal_reviews.return_goal(session, actor, goal, request.form.get("reason", ""))
        message = "已退回部门修改。"
    else:
        abort(400)
    session.commit()
    flash(message, "success")
    return redirect(url_for("goals.view", goal_id=goal.id))


# --- exports ------------------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/<int:goal_id>/export.xlsx")
def export(goal_id: int):
    """下载本项目的《项目支出绩效目标申报表》（Excel，可直接打印）。"""
    goal = _load(goal_id)
    data = goal.frozen if goal.status == GoalStatus.APPROVED and goal.frozen else goals.goal_to_dict(goal)
    content = goal_forms.workbook_bytes(goal_forms.goal_form_workbook(data))
    return send_file(io.BytesIO(content), mimetype=XLSX, as_attachment=True,
                     download_name=f"{goal.project.name}-绩效目标申报表.xlsx")


@bp.get("/export/<department_code>/<int:year>.xlsx")
def export_department(department_code: str, year: int):
    """下载某部门某年度全部项目的申报表（含目录）。"""
    session = get_session()
    department = session.scalar(select(Department).where(Department.code == department_code))
    if department is None:
        raise NotFound(f"部门 {department_code} 不存在。")
    items = goals.goals_of(session, department=department, year=year)
    data = [g.frozen if g.status == GoalStatus.APPROVED and g.frozen else goals.goal_to_dict(g) for g in items]
    content = goal_forms.workbook_bytes(goal_forms.department_workbook(data, department.name, year))
    return send_file(io.BytesIO(content), mimetype=XLSX, as_attachment=True,
                     download_name=f"{department.name}-{year}年度绩效目标申报表.xlsx")

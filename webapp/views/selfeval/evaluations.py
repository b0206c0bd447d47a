"""自评表: the list of a year, the blank (or goal-prefilled) form, uploads, one table with its scores."""
from __future__ import annotations

import datetime as dt
import io

from flask import flash, send_file, redirect, render_template, request, url_for
from sqlalchemy import select

from kb import permissions
from kb.errors import ImportFailed
from kb.models import Department
from kb.services import goals as goals_service
from kb.services import selfeval
from kb.spreadsheets.goal_forms import ordered_rows, target_text, workbook_bytes
from kb.spreadsheets.selfeval import selfeval_workbook
from kb.spreadsheets.writer import safe_filename
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.views.selfeval import bp

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _default_year() -> int:
    return dt.date.today().year - 1  # 自评 is done early in the year for the year before


@bp.get("/")
def index():
    """绩效自评列表（部门：本部门；财政、专家：全县），上传自评表。"""
    session, actor = get_session(), current_actor()
    years = selfeval.evaluation_years(session)
    year = request.args.get("year", type=int) or (years[0] if years else _default_year())
    own_only = permissions.sees_only_own_department(actor)
    department = None
    if own_only:
        department = session.get(Department, actor.department_id) if actor.department_id else None
    elif request.args.get("department"):
        department = session.scalar(select(Department).where(Department.code == request.args["department"]))
    items = [] if own_only and department is None else selfeval.evaluations_of(
        session, year=year, department_id=department.id if department else None)
    grades = {grade: sum(1 for e in items if e.grade == grade) for grade in ("优", "良", "中", "差")}
    goals = []
    if department is not None or not own_only:
        goals = [g for g in goals_service.goals_of(session, department=department) if g.status.value == "approved"][:50]
    return render_template("selfeval/index.html", items=items, year=year, years=sorted(set(years) | {year}, reverse=True),
                           department=department, grades=grades, goals=goals,
                           can_upload=permissions.can_submit_selfeval(actor, actor.department_id) or
                           permissions.can_bulk_import_selfevals(actor),
                           can_bulk=permissions.can_bulk_import_selfevals(actor))


@bp.get("/template.xlsx")
def template():
    """空白自评表（选了项目的：带出项目、部门和绩效目标中的指标与指标值）。"""
    goal_id = request.args.get("goal_id", type=int)
    form: dict = {"year": _default_year()}
    if goal_id:
        goal = goals_service.get_goal(get_session(), goal_id)
        if not permissions.can_view_goal(current_actor(), goal):
            goal = None
        if goal is not None:
            form = goal_form(goal)
    content = workbook_bytes(selfeval_workbook(form, blank_rows=0 if form.get("rows") else 10))
    name = safe_filename(f"{form.get('project') or '项目支出绩效'}-自评表.xlsx")
    return send_file(io.BytesIO(content), mimetype=XLSX, as_attachment=True, download_name=name)


def goal_form(goal) -> dict:
    """The 自评表 of an approved goal as the form writer takes it: project, department, indicators, targets."""
    project = goal.project
    return {"year": project.year, "project": project.name, "department": project.department.name,
            "implementing_unit": project.implementing_unit, "initial_budget": project.amount,
            "expected_objective": goal.annual_objective,
            "rows": [{"level1": r["level1"], "level2": r["level2"], "name": r["name"], "code": r.get("code"),
                      "target": target_text(r) + ((r.get("unit") or "") if r.get("operator") != "定性" else "")}
                     for r in ordered_rows(goals_service.goal_to_dict(goal)["rows"])]}


@bp.post("/upload")
def upload():
    """上传一份或多份自评表：全部读取并评分，任何一份有问题则逐条列出、全部不导入。"""
    session, actor = get_session(), current_actor()
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if not files:
        flash("请选择要上传的自评表文件（.xlsx）。", "warning")
        return redirect(url_for("selfeval.index"))
    if not permissions.can_bulk_import_selfevals(actor) and len(files) > 50:
        flash("部门一次最多上传 50 份自评表。", "warning")
        return redirect(url_for("selfeval.index"))
    try:
        plan = selfeval.import_selfevaluations(session, actor, [(f.filename, f.read()) for f in files])
        session.commit()
    except ImportFailed as error:
        session.rollback()
        return render_template("selfeval/refused.html", problems=error.problems, count=len(files)), 422
    if len(plan.items) == 1:
        item = plan.items[0]
        evaluation = next(e for e in selfeval.evaluations_of(session, year=item.sheet.year, department_id=item.department.id)
                          if e.project_name == item.sheet.project)
        flash(f"自评表已提交：总分 {item.result.total:.2f}，等级 {item.result.grade}。", "success")
        return redirect(url_for("selfeval.detail", evaluation_id=evaluation.id))
    flash(f"已导入自评表 {len(plan.items)} 份。", "success")
    return redirect(url_for("selfeval.index", year=plan.items[0].sheet.year))


@bp.get("/<int:evaluation_id>")
def detail(evaluation_id: int):
    """一份自评表：预算执行、逐项得分、总分和等级；已抽查的附复核结果。"""
    evaluation = selfeval.get_evaluation(get_session(), current_actor(), evaluation_id)
    check = evaluation.spot_check
    rechecked = {int(k): v for k, v in (check.row_scores or {}).items()} if check else {}
    return render_template("selfeval/detail.html", evaluation=evaluation, check=check, rechecked=rechecked)

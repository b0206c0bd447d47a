"""Filling a 自评表 in the browser, from an approved goal: the page builds the standard form and takes
the same path as an upload (read, score, import), so a table scores the same however it arrives."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from kb import permissions
from kb.errors import ImportFailed, PermissionDenied
from kb.services import goals as goals_service
from kb.services import selfeval
from kb.spreadsheets.goal_forms import workbook_bytes
from kb.spreadsheets.selfeval import selfeval_workbook
from kb.spreadsheets.selfeval_reader import read_selfeval, score_sheet
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.views.selfeval import bp
from webapp.views.selfeval.evaluations import goal_form

FIRST_ROW = 10  # the first indicator row of the standard form (kb.spreadsheets.selfeval)
MONEY = ("initial_budget", "budget", "executed")


@bp.route("/fill/<int:goal_id>", methods=["GET", "POST"])
def fill(goal_id: int):
    """在线填写自评表：带出绩效目标的指标和指标值，填实际完成值，先计算得分，再提交。"""
    session, actor = get_session(), current_actor()
    goal = goals_service.get_goal(session, goal_id)
    if not permissions.can_submit_selfeval(actor, goal.project.department_id):
        raise PermissionDenied("只能填写本部门项目的自评表。")
    form = goal_form(goal)
    result, problems, by_row = None, [], {}
    if request.method == "POST":
        for key in MONEY + ("achieved_objective",):
            form[key] = request.form.get(key, "").strip()
        for index, row in enumerate(form["rows"]):
            for key in ("actual", "score", "explanation"):
                row[key] = request.form.get(f"{key}_{index}", "").strip()
        content = workbook_bytes(selfeval_workbook(form))
        filename = f"{form['project']}-自评表.xlsx"
        sheet = read_selfeval(content, filename)
        result, problems = score_sheet(sheet)
        by_row = {int(p.entry.split()[1]) - FIRST_ROW: p for p in problems if p.entry.startswith("第 ")
                  and int(p.entry.split()[1]) >= FIRST_ROW}
        if request.form.get("action") == "submit" and not problems:
            try:
                selfeval.import_selfevaluations(session, actor, [(filename, content)])
                session.commit()
            except ImportFailed as error:
                session.rollback()
                problems = error.problems
            else:
                evaluation = next(e for e in selfeval.evaluations_of(session, year=form["year"],
                                                                      department_id=goal.project.department_id)
                                  if e.project_name == form["project"])
                flash(f"自评表已提交：总分 {result.total:.2f}，等级 {result.grade}。", "success")
                return redirect(url_for("selfeval.detail", evaluation_id=evaluation.id))
    return render_template("selfeval/fill.html", goal=goal, form=form, result=result, problems=problems,
                           by_row=by_row), 422 if problems else 200

"""目标申报 exports: one goal's 申报表 and a department's workbook of a year."""
from __future__ import annotations

import io

from flask import send_file
from sqlalchemy import select

from kb.errors import NotFound
from kb.models import Department
from kb.models.goal import GoalStatus
from kb.services import goals
from kb.spreadsheets import goal_forms
from kb.spreadsheets.writer import safe_filename
from webapp.db import get_session
from webapp.views.goals import bp, load_goal


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/<int:goal_id>/export.xlsx")
def export(goal_id: int):
    """下载本项目的《项目支出绩效目标申报表》（Excel，可直接打印）。"""
    goal = load_goal(goal_id)
    data = goal.frozen if goal.status == GoalStatus.APPROVED and goal.frozen else goals.goal_to_dict(goal)
    content = goal_forms.workbook_bytes(goal_forms.goal_form_workbook(data))
    return send_file(io.BytesIO(content), mimetype=XLSX, as_attachment=True,
                     download_name=f"{safe_filename(goal.project.name)}-绩效目标申报表.xlsx")


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
                     download_name=f"{safe_filename(department.name)}-{year}年度绩效目标申报表.xlsx")

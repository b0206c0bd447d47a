"""A small county for the monitoring tests: the projects of the worked example (A, B, C) with approved
goals, a 定性 indicator, a project under the 50 万元 threshold and one of another year."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kb.models import BudgetProject, Department, GoalRow, PerformanceGoal
from kb.models.goal import GoalStatus
from kb.services.audit import Actor

JULY = dt.date(2024, 7, 31)
NOVEMBER = dt.date(2024, 11, 30)
FINANCE = Actor("财政甲", "finance")
EXPERT = Actor("专家乙", "expert")


@dataclass
class World:
    health: Department
    civil: Department
    health_officer: Actor
    civil_officer: Actor
    projects: dict[str, BudgetProject]


def _project(session, department, name, amount, rows, year=2024, status=GoalStatus.APPROVED) -> BudgetProject:
    project = BudgetProject(department=department, year=year, name=name, amount=amount)
    goal = PerformanceGoal(project=project, status=status, annual_objective="年度目标")
    for position, (row_name, nature, operator, target, unit) in enumerate(rows):
        goal.rows.append(GoalRow(position=position, name=row_name, level1="产出指标", level2="数量指标", nature=nature,
                                 operator=operator, target=target, unit=unit))
    session.add_all([project, goal])
    return project


def build_world(session, make_department) -> World:
    """``make_department(code, name)`` gives the department (the fixture of tests/conftest.py, or a lookup)."""
    health = make_department("102", "县卫生健康局")
    civil = make_department("103", "县民政局")
    projects = {
        "A": _project(session, health, "A 基本公共卫生服务", 200, [("服务人数", "定量", "≥", "500", "人")]),
        "B": _project(session, health, "B 医疗设备购置", 100, [("设备到位时间", "定量", "≤", "30", "天"),
                                                        ("设备验收合格率", "定量", "≥", "100", "%")]),
        "C": _project(session, civil, "C 城乡低保", 80, [("低保对象满意度", "定量", "≥", "90", "%"),
                                                     ("救助政策落实情况", "定性", "定性", "全面落实", "")]),
        "small": _project(session, civil, "小额项目", 30, [("发放人数", "定量", "≥", "100", "人")]),
        "draft": _project(session, civil, "D 目标未审定项目", 60, [("草稿指标", "定量", "≥", "1", "个")],
                          status=GoalStatus.DRAFT),
        "other_year": _project(session, health, "2025 年项目", 500, [("人数", "定量", "≥", "1", "人")], year=2025),
    }
    session.flush()
    return World(health, civil, Actor("卫健科员", "department", department_id=health.id),
                 Actor("民政科员", "department", department_id=civil.id), projects)

"""kb.services.goals and kb.services.goal_usage: drafting, reuse, review workflow, usage insight."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from kb import permissions
from kb.errors import EditConflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from kb.models import AuditEntry, GoalRow
from kb.models.goal import GoalStatus
from kb.services import goal_usage, goals
from kb.services.audit import Actor
from kb.services.indicators import retire_indicator

FINANCE = Actor("财政甲", "finance")
EXPERT = Actor("专家乙", "expert")

PROJECT = {
    "name": "2025年基本公共卫生服务项目", "amount": "1200", "fiscal_amount": "1000", "kind": "延续",
    "category": "公共服务类", "period": "2025年1月—12月", "description": "为辖区居民提供基本公共卫生服务。",
}
OBJECTIVES = {
    "long_term_objective": "2025—2027 年为全县居民提供 12 类基本公共卫生服务，居民健康素养水平达到 28%。",
    "annual_objective": "2025 年为全县居民提供 12 类基本公共卫生服务，适龄儿童接种率不低于 90%。",
}


@pytest.fixture
def world(session, make_department, make_indicator):
    """A department with a typical bundle of four indicators, a common 满意度 indicator, a user actor."""
    department = make_department("102", "县卫生健康局")
    other = make_department("103", "县民政局")
    bundle = ["基本公共卫生服务项目"]
    make_indicator(department, code="WJ-001", name="适龄儿童疫苗接种率", level1="产出指标", level2="数量指标",
                   target="90", projects=bundle)
    make_indicator(department, code="WJ-002", name="服务人次", level1="产出指标", level2="数量指标", target="30000",
                   unit="人次", formula="", projects=bundle)
    make_indicator(department, code="WJ-011", name="人均服务经费", level1="成本指标", level2="经济成本指标",
                   target="94", unit="元/人·年", formula="", projects=bundle)
    make_indicator(department, code="WJ-012", name="居民健康素养水平", level1="效益指标", level2="社会效益指标",
                   target="25", projects=bundle)
    make_indicator(None, code="GX-021", name="服务对象满意度", level1="满意度指标", level2="服务对象满意度指标",
                   target="90", projects=["通用"])
    make_indicator(other, code="MZ-021", name="服务对象的满意度", level1="满意度指标", level2="服务对象满意度指标",
                   target="90", projects=["社会救助"])
    session.flush()
    officer = Actor("卫健科员", "department", department_id=department.id)
    return department, other, officer


def new_goal(session, world, **project):
    department, _, officer = world
    return goals.create_goal(session, officer, department, 2025, {**PROJECT, **project, **OBJECTIVES})


def test_create_goal_and_audit(session, world):
    goal = new_goal(session, world)
    assert goal.status == GoalStatus.DRAFT and goal.project.amount == 1200 and goal.project.fiscal_amount == 1000
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "goal")).one()
    assert entry.action == "create" and entry.actor == "卫健科员"


def test_project_fields_are_validated(session, world):
    department, _, officer = world
    with pytest.raises(ValidationFailed) as error:
        goals.create_goal(session, officer, department, 2025, {"name": "", "amount": "很多", "kind": "其他",
                                                               "category": "奇怪类"})
    fields = {problem.field for problem in error.value.problems}
    assert fields == {"name", "amount", "kind", "category"}


def test_department_cannot_create_for_another_department(session, world):
    _, other, officer = world
    with pytest.raises(PermissionDenied):
        goals.create_goal(session, officer, other, 2025, PROJECT)


def test_add_indicators_copies_library_values_and_skips_duplicates(session, world):
    goal = new_goal(session, world)
    added = goals.add_indicators(session, world[2], goal, ["WJ-001", "GX-021", "WJ-001"])
    assert [row.indicator_code for row in added] == ["WJ-001", "GX-021"]
    assert goals.add_indicators(session, world[2], goal, ["WJ-001"]) == []
    first = goal.rows[0]
    assert (first.name, first.operator, first.target, first.unit) == ("适龄儿童疫苗接种率", "≥", "90", "%")
    assert first.formula and "计划标准" in first.basis_note
    with pytest.raises(NotFound):
        goals.add_indicators(session, world[2], goal, ["NOPE-1"])


def test_retired_indicators_cannot_be_added(session, world, actor):
    goal = new_goal(session, world)
    retire_indicator(session, actor, "WJ-002", expected_version=1)
    with pytest.raises(InvalidTransition):
        goals.add_indicators(session, world[2], goal, ["WJ-002"])


def test_typical_bundle_in_one_step(session, world):
    goal = new_goal(session, world)
    bundles = {b.project_type: b for b in goals.typical_bundles(session, world[0])}
    assert bundles["基本公共卫生服务项目"].codes == ("WJ-001", "WJ-002", "WJ-011", "WJ-012")
    goals.add_bundle(session, world[2], goal, "基本公共卫生服务项目")
    assert [row.indicator_code for row in goal.rows] == ["WJ-001", "WJ-002", "WJ-011", "WJ-012"]
    with pytest.raises(NotFound):
        goals.add_bundle(session, world[2], goal, "不存在的项目")


def test_save_goal_keeps_library_fields_and_sets_project_values(session, world):
    goal = new_goal(session, world)
    goals.add_indicators(session, world[2], goal, ["WJ-001", "WJ-002"])
    form = goals.goal_to_dict(goal)
    rows = form["rows"]
    rows[0].update(name="改名", level1="效益指标", target="95", basis_note="上年实际 93%")
    custom = {"name": "家庭医生签约人数", "level1": "产出指标", "level2": "数量指标", "nature": "定量",
              "operator": ">=", "target": "5000", "unit": "人"}
    goals.save_goal(session, world[2], goal, {"rows": [rows[1], rows[0], custom]}, goal.row_version)
    names = [(r.name, r.level1, r.target, r.indicator_code, r.operator) for r in goal.rows]
    assert names == [("服务人次", "产出指标", "30000", "WJ-002", "≥"),
                     ("适龄儿童疫苗接种率", "产出指标", "95", "WJ-001", "≥"),
                     ("家庭医生签约人数", "产出指标", "5000", "", "≥")]
    assert goal.rows[1].basis_note == "上年实际 93%" and goal.rows[2].is_custom


def test_save_goal_reports_every_row_problem(session, world):
    goal = new_goal(session, world)
    bad = [{"name": "", "level1": "产出指标", "level2": "经济效益指标", "operator": "≥", "target": "1"},
           {"code": "NOPE-1"}]
    with pytest.raises(ValidationFailed) as error:
        goals.save_goal(session, world[2], goal, {"rows": bad})
    entries = [(p.entry, p.field) for p in error.value.problems]
    assert ("第 1 行", "name") in entries and ("第 1 行", "level2") in entries and ("第 2 行", "code") in entries


def test_save_goal_detects_a_concurrent_edit(session, world):
    goal = new_goal(session, world)
    version = goal.row_version
    goals.save_goal(session, FINANCE, goal, {"annual_objective": "别人先保存了"}, version)
    with pytest.raises(EditConflict) as error:
        goals.save_goal(session, world[2], goal, {"annual_objective": "我的修改"}, version)
    assert "已被他人修改" in str(error.value)


def full_goal(session, world):
    goal = new_goal(session, world)
    goals.add_bundle(session, world[2], goal, "基本公共卫生服务项目")
    goals.add_indicators(session, world[2], goal, ["GX-021"])
    return goal


def test_visibility_and_editable_goals(session, world):
    goal = full_goal(session, world)
    stranger = Actor("民政科员", "department", department_id=world[1].id)
    assert permissions.can_view_goal(world[2], goal) and not permissions.can_view_goal(stranger, goal)
    assert permissions.can_view_goal(EXPERT, goal) and not permissions.can_edit_goal(EXPERT, goal)
    assert goals.editable_goals(session, world[2]) == [goal]
    assert goals.editable_goals(session, stranger) == []
    with pytest.raises(PermissionDenied):
        goals.add_indicators(session, stranger, goal, ["GX-021"])


def test_propose_custom_row(session, world):
    goal = new_goal(session, world)
    goals.add_indicators(session, world[2], goal, ["WJ-001"])
    rows = goals.goal_to_dict(goal)["rows"] + [{"name": "家庭医生签约率", "level1": "产出指标", "level2": "质量指标",
                                                "nature": "定量", "operator": "≥", "target": "70", "unit": "%"}]
    goals.save_goal(session, world[2], goal, {"rows": rows})
    custom = goal.rows[1]
    goals.propose_row(session, world[2], goal, custom.id)
    assert custom.proposed
    with pytest.raises(InvalidTransition):
        goals.propose_row(session, world[2], goal, goal.rows[0].id)


def test_usage_counts_and_insight(session, world):
    first = full_goal(session, world)
    second = new_goal(session, world, name="2026年基本公共卫生服务项目")
    goals.add_indicators(session, world[2], second, ["WJ-001"])
    assert goal_usage.usage_count(session, "WJ-001") == 2
    assert goal_usage.usage_count(session, "GX-021") == 1 and goal_usage.usage_count(session, "MZ-021") == 0
    assert goal_usage.usage_counts(session, ["WJ-001", "MZ-021"]) == {"WJ-001": 2}
    usage = {u.code: u for u in goal_usage.usage_by_department(session)}
    assert list(usage)[0] == "共性"
    assert usage["102"].most_used[0][0].code == "WJ-001" and usage["102"].most_used[0][1] == 2
    assert [i.code for i in usage["103"].never_used] == ["MZ-021"]
    assert first.rows  # keep the first goal referenced


def test_near_duplicates_across_departments(session, world):
    pairs = goal_usage.near_duplicates(session)
    assert [{p.first.code, p.second.code} for p in pairs] == [{"GX-021", "MZ-021"}]
    assert pairs[0].similarity > 0.7
    assert goal_usage.similarity("服务对象满意度", "服务对象满意度") == 1.0
    assert goal_usage.similarity("服务对象满意度", "道路养护里程") < 0.3


def test_rows_are_deleted_with_their_goal_only_via_save(session, world):
    goal = full_goal(session, world)
    goals.save_goal(session, world[2], goal, {"rows": goals.goal_to_dict(goal)["rows"][:2]})
    session.flush()
    assert session.scalars(select(GoalRow).where(GoalRow.goal_id == goal.id)).all() == goal.rows[:2]


def test_a_copied_indicator_does_not_join_the_source_departments_bundle(session, world, make_department):
    """Issue 16: after copying WJ-006 into 教育局 the 卫健 bundle had 14 items, labelled 教育局, WJ-006 twice."""
    from kb.services.personal import copy_indicator

    department, _, officer = world
    education = make_department("101", "县教育局")
    session.flush()
    copy = copy_indicator(session, FINANCE, "WJ-002", education)
    bundles = {(b.department_code, b.project_type): b for b in goals.typical_bundles(session)}
    assert bundles[("102", "基本公共卫生服务项目")].codes == ("WJ-001", "WJ-002", "WJ-011", "WJ-012")
    assert bundles[("101", "基本公共卫生服务项目")].codes == (copy.code,)
    goal = new_goal(session, world)
    goals.add_bundle(session, officer, goal, "基本公共卫生服务项目")  # a bare name: the goal's own department
    assert [row.indicator_code for row in goal.rows] == ["WJ-001", "WJ-002", "WJ-011", "WJ-012"]
    goals.add_bundle(session, officer, goal, bundles[("101", "基本公共卫生服务项目")].key)
    assert [row.indicator_code for row in goal.rows].count("WJ-002") == 1

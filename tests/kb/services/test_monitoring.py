"""kb.services.monitoring (+ _import, _board, _rules): rounds, filling in, lights, follow-up rounds,
整体监控, warning rates, the Excel import (all or nothing) and the 监控表 export."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from kb.errors import ImportFailed, InvalidTransition, PermissionDenied, ValidationFailed
from kb.models import AuditEntry, MonitoringEntry
from kb.models.monitoring import Light, RoundScope, RoundStatus
from kb.services import monitoring
from kb.services.monitoring_board import RateChange, RoundBoard, monitoring_workbook, rate_changes, round_board
from kb.services.monitoring_import import import_execution
from kb.services.monitoring_rules import current_rules, save_rules
from tests.kb.services.monitoring_world import EXPERT, FINANCE, JULY, NOVEMBER, build_world


@pytest.fixture
def world(session, make_department):
    return build_world(session, make_department)


def open_july(session, **overrides):
    return monitoring.open_round(session, FINANCE, **{"name": "2024 年 1—7 月绩效运行监控", "cut_off": JULY,
                                                      **overrides})


def entry_of(session, monitoring_round, world, key) -> MonitoringEntry:
    project = world.projects[key]
    return next(e for e in monitoring.round_entries(session, monitoring_round) if e.project_id == project.id)


def indicator_inputs(entry, **by_name):
    return {item.id: by_name[item.name] for item in entry.indicators if item.name in by_name}


WARNED = {"deviation_reason": "招标延迟", "corrective_measure": "加快实施进度"}


def fill_worked_example(session, monitoring_round, world):
    """The worked example of the domain file: A red/yellow, B yellow/red, C green/green."""
    a, b, c = (entry_of(session, monitoring_round, world, key) for key in "ABC")
    monitoring.fill_entry(session, world.health_officer, a, budget="200", executed="60",
                          indicators=indicator_inputs(a, 服务人数={"value_to_date": "260", "expected": "420", **WARNED}))
    monitoring.fill_entry(session, world.health_officer, b, budget="100", executed="45", indicators=indicator_inputs(
        b, 设备到位时间={"expected": "40", **WARNED}, 设备验收合格率={"expected": "100"}))
    monitoring.fill_entry(session, world.civil_officer, c, budget="80", executed="44", indicators=indicator_inputs(
        c, 低保对象满意度={"expected": "95"}, 救助政策落实情况={"outlook": "确定能"}))
    return a, b, c


def test_open_round_takes_the_projects_of_the_year_above_the_threshold(session, world):
    monitoring_round = open_july(session)
    names = {entry.project.name for entry in monitoring_round.entries}
    assert names == {"A 基本公共卫生服务", "B 医疗设备购置", "C 城乡低保", "D 目标未审定项目"}
    assert monitoring_round.scope == RoundScope.AMOUNT and monitoring_round.min_amount == 50
    assert monitoring_round.rules_version == 0 and monitoring_round.rules["budget"]["red_gap"] == 20
    # Only approved goals are monitored: a draft's targets may still change.
    by_name = {entry.project.name: entry for entry in monitoring_round.entries}
    assert [i.name for i in by_name["B 医疗设备购置"].indicators] == ["设备到位时间", "设备验收合格率"]
    assert by_name["D 目标未审定项目"].indicators == []
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "monitoring.open")).one()
    assert audit.actor == "财政甲" and audit.after["projects"] == 4


def test_open_round_with_another_threshold(session, world):
    assert len(open_july(session, min_amount=90).entries) == 2  # A and B


@pytest.mark.parametrize("actor", ["department", EXPERT])
def test_only_finance_opens_rounds(session, world, actor):
    actor = world.health_officer if actor == "department" else actor
    with pytest.raises(PermissionDenied):
        monitoring.open_round(session, actor, name="x", cut_off=JULY)


def test_open_round_reports_every_missing_field(session, world):
    with pytest.raises(ValidationFailed) as caught:
        monitoring.open_round(session, FINANCE, name=" ", cut_off=None)
    assert {p.field for p in caught.value.problems} == {"name", "cut_off"}


def test_worked_example_lights(session, world):
    monitoring_round = open_july(session)
    a, b, c = fill_worked_example(session, monitoring_round, world)
    assert (a.budget_light, a.goal_light) == (Light.RED, Light.YELLOW)
    assert (b.budget_light, b.goal_light) == (Light.YELLOW, Light.RED)  # B's ≤ 30 天 at 40 天 is red
    assert (c.budget_light, c.goal_light) == (Light.GREEN, Light.GREEN)
    assert a.indicators[0].completion == pytest.approx(0.84)
    assert a.filled_by == "卫健科员" and a.filled_at is not None
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "monitoring.fill")).all()


def test_a_warned_indicator_needs_reason_and_measure_and_nothing_is_saved(session, world):
    monitoring_round = open_july(session)
    a = entry_of(session, monitoring_round, world, "A")
    with pytest.raises(ValidationFailed) as caught:
        monitoring.fill_entry(session, world.health_officer, a, budget="200", executed="abc",
                              indicators=indicator_inputs(a, 服务人数={"expected": "420"}))
    assert {p.field for p in caught.value.problems} == {"executed", "deviation_reason", "corrective_measure"}
    assert "服务人数" in str(caught.value) and "黄灯" in str(caught.value)
    assert a.executed is None and a.budget_light is None and a.indicators[0].expected == ""


def test_qualitative_indicators_need_an_outlook(session, world):
    monitoring_round = open_july(session)
    c = entry_of(session, monitoring_round, world, "C")
    with pytest.raises(ValidationFailed) as caught:
        monitoring.fill_entry(session, world.civil_officer, c, budget="80", executed="44",
                              indicators=indicator_inputs(c, 低保对象满意度={"expected": "95"},
                                                          救助政策落实情况={"outlook": "也许"}))
    assert [p.field for p in caught.value.problems] == ["outlook", "outlook"]


def test_executed_above_budget_is_refused(session, world):
    monitoring_round = open_july(session)
    c = entry_of(session, monitoring_round, world, "C")
    with pytest.raises(ValidationFailed, match="大于全年预算数"):
        monitoring.fill_entry(session, world.civil_officer, c, budget="80", executed="81")


def test_a_department_fills_only_its_own_projects_and_only_while_open(session, world):
    monitoring_round = open_july(session)
    c = entry_of(session, monitoring_round, world, "C")
    with pytest.raises(PermissionDenied):
        monitoring.fill_entry(session, world.health_officer, c, budget="80", executed="44")
    monitoring.close_round(session, FINANCE, monitoring_round)
    assert monitoring_round.status == RoundStatus.CLOSED and monitoring_round.closed_by == "财政甲"
    with pytest.raises(InvalidTransition):
        monitoring.fill_entry(session, world.civil_officer, c, budget="80", executed="44")
    with pytest.raises(InvalidTransition):
        monitoring.close_round(session, FINANCE, monitoring_round)


def test_only_finance_closes(session, world):
    with pytest.raises(PermissionDenied):
        monitoring.close_round(session, world.health_officer, open_july(session))


def test_follow_up_round_takes_the_warned_projects(session, world):
    july = open_july(session)
    fill_worked_example(session, july, world)
    monitoring.close_round(session, FINANCE, july)
    with pytest.raises(ValidationFailed, match="晚于"):
        monitoring.follow_up_round(session, FINANCE, july, cut_off=JULY)
    november = monitoring.follow_up_round(session, FINANCE, july, cut_off=NOVEMBER)
    assert november.scope == RoundScope.WARNED and november.source_round_id == july.id
    assert november.name == "2024 年 1—11 月预警项目跟踪监控"
    assert {entry.project.name for entry in november.entries} == {"A 基本公共卫生服务", "B 医疗设备购置"}


def test_follow_up_round_starts_from_the_budget_reported_last_time(session, world):
    july = open_july(session)
    a = entry_of(session, july, world, "A")
    monitoring.fill_entry(session, world.health_officer, a, budget="180", executed="30",
                          indicators=indicator_inputs(a, 服务人数={"expected": "500"}))
    november = monitoring.follow_up_round(session, FINANCE, july, cut_off=NOVEMBER)
    assert [entry.budget for entry in november.entries] == [180]  # 调整后预算, not the 200 of the project


def test_changed_rules_apply_to_rounds_opened_afterwards(session, world):
    july = open_july(session)
    with pytest.raises(PermissionDenied):
        save_rules(session, world.health_officer, {})
    data = current_rules(session)[1].as_dict()
    data["budget"]["yellow_gap"] = 15
    version = save_rules(session, FINANCE, data, note="按县局通知调整")
    assert current_rules(session)[0] == version.id
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "monitoring.rules")).one()
    assert audit.before["budget"]["yellow_gap"] == 10 and audit.after["budget"]["yellow_gap"] == 15
    later = monitoring.open_round(session, FINANCE, name="8 月", cut_off=JULY.replace(month=8, day=31))
    assert (july.rules_version, later.rules_version) == (0, version.id)
    b_july = entry_of(session, july, world, "B")
    monitoring.fill_entry(session, world.health_officer, b_july, budget="100", executed="45", indicators=indicator_inputs(
        b_july, 设备到位时间={"expected": "30"}, 设备验收合格率={"expected": "100"}))
    assert b_july.budget_light is Light.YELLOW  # the rules july was opened under (gap 13.33 > 10)


def test_broken_rules_are_refused_with_fields(session, world):
    data = current_rules(session)[1].as_dict()
    data["goal"]["yellow_completion"] = 120
    with pytest.raises(ValidationFailed) as caught:
        save_rules(session, FINANCE, data)
    assert caught.value.problems[0].field == "goal.yellow_completion"


def test_board_counts_and_whole_department_monitoring(session, world):
    july = open_july(session)
    fill_worked_example(session, july, world)
    board = round_board(session, july)
    assert board.monitored == 4 and board.filled == 3 and board.base == 4
    assert board.count("budget", Light.RED) == 1 and board.count("goal", Light.RED) == 1
    health = next(row for row in board.departments if row.code == "102")
    # 整体监控: A + B summed: 105 of 300 万元 = 35 %, 23.33 points behind 58.33 % → red.
    assert (health.projects, health.filled, health.budget, health.executed) == (2, 2, 300, 105)
    assert health.rate == pytest.approx(0.35) and health.light is Light.RED
    assert health.count("budget", Light.YELLOW) == 1 and health.count("goal", Light.YELLOW) == 1
    civil = next(row for row in board.departments if row.code == "103")
    assert (civil.projects, civil.filled, civil.light) == (2, 1, Light.GREEN)
    own = round_board(session, july, world.civil.id)
    assert {entry.project.name for entry in own.entries} == {"C 城乡低保", "D 目标未审定项目"}


def test_follow_up_rates_are_measured_against_the_first_round(session, world):
    july = open_july(session)
    fill_worked_example(session, july, world)
    november = monitoring.follow_up_round(session, FINANCE, july, cut_off=NOVEMBER)
    a = entry_of(session, november, world, "A")
    monitoring.fill_entry(session, world.health_officer, a, budget="200", executed="190",
                          indicators=indicator_inputs(a, 服务人数={"expected": "500"}))
    before, after = round_board(session, july), round_board(session, november)
    assert after.base == 4  # the four projects of July, not the two followed up
    changes = {(c.kind, c.light): c for c in rate_changes(before, after)}
    assert changes[("budget", Light.RED)].text == "预算执行红灯预警率下降 100%"
    assert changes[("goal", Light.RED)].text == "目标完成红灯预警率下降 100%"  # B not filled in yet


def _board(counts, base=493):
    return RoundBoard(None, [], [], {(kind, light): n for (kind, light), n in counts.items()}, base)


def test_warning_rate_changes_as_the_report_states_them():
    july = _board({("budget", Light.RED): 186, ("budget", Light.YELLOW): 37, ("goal", Light.RED): 82,
                   ("goal", Light.YELLOW): 21})
    november = _board({("budget", Light.RED): 126, ("budget", Light.YELLOW): 14, ("goal", Light.RED): 44,
                       ("goal", Light.YELLOW): 11})
    assert [c.text for c in rate_changes(july, november)] == [
        "预算执行红灯预警率下降 32%", "预算执行黄灯预警率下降 62%", "目标完成红灯预警率下降 46%", "目标完成黄灯预警率下降 48%"]
    assert RateChange("budget", "预算执行", Light.RED, 10, 12, 10 / 493, 12 / 493).text.endswith("上升 20%")


# --- the Excel import of the budget system's execution figures -----------------------------------

def workbook_bytes(rows, headers=("项目编码", "项目名称", "全年预算数（万元）", "1—7月执行数（万元）")) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["2024 年 1—7 月项目支出执行情况表"])
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def test_import_sets_budgets_executed_and_budget_lights(session, world):
    july = open_july(session)
    content = workbook_bytes([("X01", "A 基本公共卫生服务", 200, 60), ("X02", "B 医疗设备购置", "100", "45.0"),
                              ("X09", "不在范围的项目", 10, 5), ("", "合计", 310, 110)])
    result = import_execution(session, FINANCE, july, content, "执行情况.xlsx")
    assert result.updated == 2 and "不在本轮监控范围内" in str(result.skipped[0])
    a, b = entry_of(session, july, world, "A"), entry_of(session, july, world, "B")
    assert (a.executed, a.budget_light, b.executed, b.budget_light) == (60, Light.RED, 45, Light.YELLOW)


def test_import_converts_amounts_in_yuan(session, world):
    july = open_july(session)
    content = workbook_bytes([("C 城乡低保", 800000, 440000)], headers=("项目名称", "预算数（元）", "支出数（元）"))
    import_execution(session, FINANCE, july, content, "执行情况.xlsx")
    c = entry_of(session, july, world, "C")
    assert (c.budget, c.executed, c.budget_light) == (80, 44, Light.GREEN)


def test_a_refused_import_writes_nothing_and_names_every_row(session, world):
    july = open_july(session)
    content = workbook_bytes([("X01", "A 基本公共卫生服务", 200, 60), ("X02", "B 医疗设备购置", 100, "四十五"),
                              ("X03", "C 城乡低保", 80, 90), ("X04", "A 基本公共卫生服务", 200, 61)])
    with pytest.raises(ImportFailed) as caught:
        import_execution(session, FINANCE, july, content, "执行情况.xlsx")
    assert [(p.entry, p.field) for p in caught.value.problems] == [
        ("第 4 行", "1—7月执行数（万元）"), ("第 5 行", "1—7月执行数（万元）"), ("第 6 行", "项目名称")]
    text = str(caught.value)
    assert "“四十五”不是数字" in text and "大于全年预算数" in text and "在第 3 行已出现过" in text
    assert all(entry.executed is None for entry in july.entries)
    assert not session.scalars(select(AuditEntry).where(AuditEntry.action == "monitoring.import")).all()


def test_a_department_imports_only_its_own_projects(session, world):
    july = open_july(session)
    content = workbook_bytes([("X01", "A 基本公共卫生服务", 200, 60), ("X03", "C 城乡低保", 80, 44)])
    with pytest.raises(ImportFailed, match="只能导入本部门"):
        import_execution(session, world.health_officer, july, content, "执行情况.xlsx")
    assert entry_of(session, july, world, "A").executed is None


def test_import_needs_the_header(session, world):
    with pytest.raises(ImportFailed, match="没有找到表头"):
        import_execution(session, FINANCE, open_july(session), workbook_bytes([], headers=("名", "数")), "x.xlsx")


def test_export_is_the_monitoring_table_and_formula_safe(session, world):
    july = open_july(session)
    world.projects["C"].name = "=HYPERLINK(\"http://evil\")"
    fill_worked_example(session, july, world)
    board = round_board(session, july)
    workbook = load_workbook(io.BytesIO(monitoring_workbook(board, rate_changes(board, board))))
    assert workbook.sheetnames == ["项目监控表", "绩效指标", "部门整体监控", "预警率变化"]
    rows = list(workbook["项目监控表"].iter_rows(min_row=3, values_only=True))
    assert all(row[0] for row in rows)  # no empty rows between the header and the projects
    assert ("县卫生健康局", "A 基本公共卫生服务", 200, 60, "30.00 %", 28.33, "红灯", "黄灯", "卫健科员") in rows
    assert any(row[1] == "'=HYPERLINK(\"http://evil\")" for row in rows)
    assert "时间进度 58.33 %" in workbook["项目监控表"]["A1"].value

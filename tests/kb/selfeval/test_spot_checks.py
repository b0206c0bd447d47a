"""kb.services.spot_checks: a repeatable draw (seed), red-light projects always in, re-checks, statistics."""
from __future__ import annotations

import pytest

from kb.errors import PermissionDenied, ValidationFailed
from kb.models import BudgetProject
from kb.services import selfeval, spot_checks
from kb.services.audit import Actor
from tests.kb.selfeval.builders import filled_bytes

FINANCE = Actor("财政甲", "finance")


@pytest.fixture
def year_of_tables(session, make_department):
    education = make_department("101", "县教育局")
    health = make_department("102", "县卫生健康局")
    red = BudgetProject(department=health, year=2023, name="红灯项目")
    session.add(red)
    session.flush()
    files = [(f"{i}.xlsx", filled_bytes(project=f"项目{i:02d}", department="101" if i % 2 else "102")) for i in range(20)]
    files.append(("red.xlsx", filled_bytes(project="红灯项目", department="102")))
    selfeval.import_selfevaluations(session, FINANCE, files)
    session.commit()  # each test has its own database; the draw test rolls back to draw again
    return education, health, red


def sampled(draw) -> list[str]:
    return sorted(check.evaluation.project_name for check in draw.checks)


def test_draw_is_repeatable_with_its_seed_and_includes_red_projects(session, year_of_tables):
    red = year_of_tables[2]
    first = spot_checks.draw_sample(session, FINANCE, 2023, 10, seed=42, red_project_ids=[red.id])
    names = sampled(first)
    assert "红灯项目" in names
    reasons = {c.evaluation.project_name: c.reason.value for c in first.checks}
    assert reasons["红灯项目"] == "red"
    assert len([r for r in reasons.values() if r == "random"]) in (2, 3)  # ceil(21 × 10 %) = 3, one may be red
    session.rollback()
    again = spot_checks.draw_sample(session, FINANCE, 2023, 10, seed=42, red_project_ids=[red.id])
    assert sampled(again) == names and again.seed == 42


def test_red_lights_of_the_years_latest_monitoring_are_drawn_by_default(session, year_of_tables):
    import datetime as dt

    from kb.models import MonitoringEntry, MonitoringRound
    from kb.models.monitoring import Light

    _, health, red = year_of_tables

    def monitored(*lights: Light) -> dict[str, str]:
        for month, light in zip((7, 11), lights):
            monitoring_round = MonitoringRound(name=f"1—{month}月监控", year=2023, cut_off=dt.date(2023, month, 28), rules={})
            session.add(MonitoringEntry(round=monitoring_round, project_id=red.id, department_id=health.id, goal_light=light))
        session.flush()
        draw = spot_checks.draw_sample(session, FINANCE, 2023, 1, seed=7)
        return {c.evaluation.project_name: c.reason.value for c in draw.checks}

    assert monitored(Light.RED).get("红灯项目") == "red"
    session.rollback()
    assert monitored(Light.RED, Light.GREEN).get("红灯项目") != "red"  # its latest light is green


def test_only_finance_draws(session, year_of_tables):
    with pytest.raises(PermissionDenied):
        spot_checks.draw_sample(session, Actor("专家", "expert"), 2023, 10)


def test_recheck_records_scores_problems_and_statistics(session, year_of_tables):
    draw = spot_checks.draw_sample(session, FINANCE, 2023, 5, seed=1)
    check = draw.checks[0]
    row = check.evaluation.rows[0]  # 12.00 self-assessed
    spot_checks.record_check(session, FINANCE, check, row_scores={row.id: 10}, problems=[
        ("佐证不足", row.id, "没有培训签到表"), ("准确性", None, "得分计算有误")])
    assert check.row_scores == {str(row.id): 10.0}
    assert check.rechecked_total == 89.36 and check.rechecked_grade == "良"
    stats = spot_checks.problem_statistics(session, 2023)
    entry = next(s for s in stats if s.checked)
    assert entry.by_category == {"佐证不足": 1, "准确性": 1} and entry.mean_difference == 2.0


def test_recheck_refuses_scores_beyond_the_weight_and_unknown_categories(session, year_of_tables):
    check = spot_checks.draw_sample(session, FINANCE, 2023, 5, seed=1).checks[0]
    row = check.evaluation.rows[0]
    with pytest.raises(ValidationFailed) as refused:
        spot_checks.record_check(session, FINANCE, check, row_scores={row.id: 99}, problems=[("乱写", None, "x")])
    assert len(refused.value.problems) == 2
    assert check.checked_at is None

"""Values flowing back: observations per indicator, the proposed range, and the goal checks they feed."""
from __future__ import annotations

import pytest

from kb.selfeval.value_checks import check_history
from kb.services import goals, indicator_values, selfeval
from kb.services.audit import Actor
from kb.services.indicator_values import project_key, value_range
from tests.kb.selfeval.builders import EXAMPLE_ROWS, filled_bytes

FINANCE = Actor("财政甲", "finance")


def rows_with(code: str, actual: str, target: str = "≥90%") -> list[dict]:
    rows = [dict(row) for row in EXAMPLE_ROWS]
    rows[4].update(code=code, actual=actual, target=target, explanation="原因")
    return rows


@pytest.fixture
def observed(session, make_department, make_indicator):
    education = make_department("101", "县教育局")
    make_indicator(education, code="JY-900", name="就业率", level1="效益指标", level2="社会效益指标", target="90")
    files = [(f"{i}.xlsx", filled_bytes(project=f"项目{i}", rows=rows_with("JY-900", f"{actual}%")))
             for i, actual in enumerate((88, 90, 92, 94, 96))]
    files.append(("p.xlsx", filled_bytes(project="2023年职业培训", rows=rows_with("JY-900", "93%"))))
    selfeval.import_selfevaluations(session, FINANCE, files)
    session.flush()
    return education


def test_every_actual_and_target_is_collected_with_a_range(session, observed):
    values = indicator_values.indicator_values(session, "JY-900")
    assert sorted(o.value for o in values.actuals) == [88, 90, 92, 93, 94, 96]
    assert len(values.targets) == 6 and {o.year for o in values.observations} == {2023}
    observed_range = values.proposed_range
    assert (observed_range.count, observed_range.minimum, observed_range.maximum) == (6, 88, 96)
    assert observed_range.low == pytest.approx(90.5) and observed_range.high == pytest.approx(93.75)
    assert values.by_year() == [{"year": 2023, "target": 90.0, "actual": pytest.approx(92.1667, abs=1e-3),
                                 "targets": 6, "actuals": 6}]


def test_project_key_drops_the_year():
    assert project_key("2025年度基本公共卫生服务项目") == "基本公共卫生服务项目"
    assert value_range([5]).low == 5 and value_range([]) is None


def test_a_new_goal_warns_against_last_years_actual(session, observed, actor):
    goal = goals.create_goal(session, FINANCE, observed, 2024, {"name": "2024年职业培训", "amount": "10"})
    goals.add_indicators(session, FINANCE, goal, ["JY-900"])
    draft = goals.goal_to_dict(goal)
    draft["rows"][0].update(target="92", operator="≥", unit="%")
    history = indicator_values.history_of_draft(session, draft)
    assert history["JY-900"].last_actual == 93 and history["JY-900"].last_year == 2023
    rules = {f.rule for f in goals.check(session, draft)}
    assert "below_last_actual" in rules and "outside_observed_range" not in rules
    draft["rows"][0]["target"] = "100"
    assert {"never_reached_100"} <= {f.rule for f in goals.check(session, draft)}
    draft["rows"][0]["target"] = "40"
    assert "outside_observed_range" in {f.rule for f in goals.check(session, draft)}


def test_history_checks_follow_the_direction():
    history = {"X": {"last_actual": 10.0, "last_year": 2023, "low": None, "high": None, "count": 0,
                     "ever_reached_100": False, "maximum": None}}
    reverse = {"rows": [{"code": "X", "name": "办理时限", "operator": "≤", "target": "12", "unit": "天"}]}
    assert [f.rule for f in check_history(reverse, history)] == ["below_last_actual"]
    reverse["rows"][0]["target"] = "8"
    assert check_history(reverse, history) == []

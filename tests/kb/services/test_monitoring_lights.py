"""The light rules against EVERY worked example of monitoring-and-self-evaluation.md §1, and the rules
file: defaults as documented, located Chinese problems for broken rules, boundaries decided exactly."""
from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from kb.errors import ValidationFailed
from kb.models.monitoring import Light
from kb.services.monitoring_lights import (budget_light, completion, indicator_light, months_completed, time_progress,
                                           worst)
from kb.services.monitoring_rules import default_rules, parse_rules, rules_yaml

JULY = dt.date(2024, 7, 31)
RULES = default_rules()


def test_time_progress_at_31_july_is_seven_twelfths():
    assert time_progress(JULY) == Fraction(7, 12)
    assert round(float(time_progress(JULY)) * 100, 2) == 58.33


@pytest.mark.parametrize("cut_off, months", [(dt.date(2024, 7, 31), 7), (dt.date(2024, 7, 15), 6),
                                             (dt.date(2024, 11, 30), 11), (dt.date(2024, 2, 29), 2),
                                             (dt.date(2024, 12, 31), 12)])
def test_months_completed_counts_a_month_only_when_it_is_over(cut_off, months):
    assert months_completed(cut_off) == months


# The table of §1: project, budget, executed, rate, gap, light.
@pytest.mark.parametrize("project, budget, executed, rate, gap, light", [
    ("A", 200, 60, "30.00", "28.33", Light.RED),
    ("B", 100, 45, "45.00", "13.33", Light.YELLOW),
    ("C", 80, 44, "55.00", "3.33", Light.GREEN),
])
def test_budget_light_worked_example(project, budget, executed, rate, gap, light):
    result = budget_light(budget, executed, JULY, RULES)
    assert f"{float(result.rate) * 100:.2f}" == rate
    assert f"{float(result.gap):.2f}" == gap
    assert result.light is light


# "Indicator of A: ≥ 500 人, expected 420 人 → 84 % → yellow. Indicator of B: ≤ 30 天, expected 40 天 → 75 % → red."
@pytest.mark.parametrize("operator, target, expected, percent, light", [
    ("≥", "500", "420", Fraction(84), Light.YELLOW),
    ("≤", "30", "40", Fraction(75), Light.RED),
])
def test_goal_light_worked_example(operator, target, expected, percent, light):
    result = indicator_light("定量", operator, target, expected, None, RULES)
    assert result.completion * 100 == percent
    assert result.light is light


def test_project_goal_light_is_its_worst_indicator():
    # B's goal light is red because its ≤ 30 天 indicator is red, whatever its other indicators say.
    assert worst([Light.GREEN, Light.RED, Light.YELLOW]) is Light.RED
    assert worst([Light.GREEN, None]) is Light.GREEN
    assert worst([None, None]) is None


@pytest.mark.parametrize("operator, target, expected, value", [
    (">", "10", "12", Fraction(6, 5)),
    ("<", "5", "4", Fraction(5, 4)),
    ("≤", "30", "0", Fraction(1)),  # an expected value of 0 against a ≤ target counts as 100 %
    ("≤", "0", "1", Fraction(0)),  # an upper limit of 0 that is exceeded
    ("=", "100", "90", Fraction(9, 10)),  # 1 − |expected − target| ÷ target
    ("=", "100", "110", Fraction(9, 10)),
])
def test_completion_by_operator(operator, target, expected, value):
    assert completion(operator, Fraction(target), Fraction(expected)) == value


@pytest.mark.parametrize("outlook, light", [("确定能", Light.GREEN), ("有可能", Light.YELLOW), ("完全不可能", Light.RED)])
def test_qualitative_indicators_take_the_stated_outlook(outlook, light):
    assert indicator_light("定性", "定性", "明显改善", "", outlook, RULES).light is light


@pytest.mark.parametrize("executed, light", [("48.3333", Light.YELLOW), ("48.33334", Light.GREEN),
                                             ("38.3333", Light.RED), ("38.33334", Light.YELLOW)])
def test_budget_boundaries_are_exact(executed, light):
    # 7/12 − 48.3333… % is just over 10 points; with one more ten-thousandth it is under.
    assert budget_light(Fraction(100), Fraction(executed), JULY, RULES).light is light


def test_completion_boundaries_are_exact():
    assert indicator_light("定量", "≥", "500", "400", None, RULES).light is Light.YELLOW  # exactly 80 %
    assert indicator_light("定量", "≥", "500", "399.99", None, RULES).light is Light.RED
    assert indicator_light("定量", "≥", "95%", "95 %", None, RULES).light is Light.GREEN  # exactly 100 %
    assert indicator_light("定量", "=", "0.3", "0.24", None, RULES).light is Light.YELLOW  # 1 − 0.06/0.3 = 80 %


def test_defaults_are_the_documented_ones():
    assert (RULES.min_amount, RULES.yellow_gap, RULES.red_gap) == (50, 10, 20)
    assert (RULES.green_completion, RULES.yellow_completion) == (100, 80)
    assert RULES.warning_lights == {Light.RED, Light.YELLOW}
    assert parse_rules(__import__("yaml").safe_load(rules_yaml(RULES))) == RULES  # the export reads back


def test_changed_rules_change_the_lights():
    data = RULES.as_dict()
    data["budget"]["yellow_gap"] = 15
    assert budget_light(100, 45, JULY, parse_rules(data)).light is Light.GREEN  # gap 13.33 ≤ 15


def test_broken_rules_are_reported_with_their_field():
    data = RULES.as_dict()
    data["budget"] = {"yellow_gap": 30, "red_gap": "二十"}
    data["goal"]["qualitative"]["有可能"] = "orange"
    data["warning_lights"] = ["green"]
    with pytest.raises(ValidationFailed) as caught:
        parse_rules(data)
    fields = {problem.field for problem in caught.value.problems}
    assert fields == {"budget.red_gap", "goal.qualitative.有可能", "warning_lights"}
    assert "monitoring_rules.yaml" in str(caught.value) and "不是数字" in str(caught.value)

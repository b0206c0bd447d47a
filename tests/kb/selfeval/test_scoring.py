"""The scoring rules reproduce every worked example of domain/monitoring-and-self-evaluation.md §2."""
from __future__ import annotations

import pytest

from kb.selfeval.scoring import (
    RowInput, TableInput, default_weights, grade_of, score_execution, score_table,
)

# Worked example 1 (with 满意度): (row, level1, target, actual, entered score, expected weight, expected score).
EXAMPLE_1 = [
    ("a", "产出指标", "≥500人", "480人", "", 12.5, 12.00),
    ("b", "产出指标", "=100%", "100%", "", 12.5, 12.50),
    ("c", "产出指标", "≤30天", "36天", "", 12.5, 10.42),
    ("d", "产出指标", "定性", "达成年度指标", "12.5", 12.5, 12.50),
    ("e", "效益指标", "≥90%", "92%", "", 15, 15.00),
    ("f", "效益指标", "定性", "部分达成并具有一定效果", "10", 15, 10.00),
    ("g", "满意度指标", "≥90%", "85%", "", 10, 9.44),
]


def example_1(explain: bool = True) -> TableInput:
    rows = [RowInput(name=name, level1=level1, target=target, actual=actual, entered_score=entered,
                     explanation="原因及措施" if explain else "")
            for name, level1, target, actual, entered, _, _ in EXAMPLE_1]
    return TableInput(budget="100", executed="95", rows=rows)


@pytest.mark.parametrize("index", range(len(EXAMPLE_1)), ids=[row[0] for row in EXAMPLE_1])
def test_example_1_rows(index):
    result = score_table(example_1())
    _, _, _, _, _, weight, score = EXAMPLE_1[index]
    row = result.rows[index]
    assert row.weight == pytest.approx(weight)
    assert row.score == score


def test_example_1_total_grade_and_execution():
    result = score_table(example_1())
    assert (result.execution.rate, result.execution.score) == (95.0, 9.5)
    assert result.total == 91.36
    assert result.grade == "优"
    assert not result.has_errors


def test_example_1_rows_needing_explanation():
    result = score_table(example_1(explain=False))
    needing = [EXAMPLE_1[i][0] for i, row in enumerate(result.rows)
               if any(issue.column == "偏差原因分析及改进措施" for issue in row.problems)]
    assert needing == ["a", "c", "f", "g"]
    assert result.has_errors


def test_example_2_weights_without_satisfaction():
    level1s = ["产出指标"] * 4 + ["效益指标"] * 2
    assert [float(w) for w in default_weights(level1s)] == [14.0625] * 4 + [16.875] * 2


def test_example_2_zero_target_exceeded_and_full_execution():
    rows = [RowInput(name=f"产出{i}", level1="产出指标", target="≥10个", actual="10个") for i in range(3)]
    rows.append(RowInput(name="安全责任事故", level1="产出指标", target="≤0次", actual="1次", explanation="已整改"))
    rows += [RowInput(name=f"效益{i}", level1="效益指标", target="≥90%", actual="95%") for i in range(2)]
    result = score_table(TableInput(budget="100", executed="100", rows=rows))
    assert result.rows[3].score == 0
    assert result.rows[3].met is False
    assert result.execution.score == 10.0
    assert result.total == round(10 + 3 * 14.06 + 0 + 2 * 16.88, 2)


def test_cost_counts_inside_output():
    weights = default_weights(["产出指标", "成本指标", "效益指标", "满意度指标"])
    assert [float(w) for w in weights] == [25, 25, 30, 10]


@pytest.mark.parametrize(("total", "grade"), [(90, "优"), (89.99, "良"), (80, "良"), (79.99, "中"), (60, "中"), (59.99, "差")])
def test_grades(total, grade):
    assert grade_of(total) == grade


def test_execution_is_capped_at_ten():
    assert score_execution("100", "120").score == 10.0
    assert score_execution("0", "5").problems


@pytest.mark.parametrize(("actual", "entered", "column"), [
    ("达成年度指标", "", "得分"),            # missing score
    ("达成年度指标", "9", "得分"),           # below the 80 % band of 12.5
    ("部分达成", "10", "得分"),              # 80 % is the next band
    ("差不多", "10", "实际完成值"),          # not a grade
])
def test_qualitative_errors_are_located(actual, entered, column):
    rows = [RowInput(name="质量", level1="产出指标", target="定性", actual=actual, entered_score=entered,
                     weight=w, explanation="x") for w in ("12.5",)]
    rows += [RowInput(name="其他", level1="效益指标", target="≥1个", actual="1个", weight="77.5")]
    result = score_table(TableInput(budget="1", executed="1", rows=rows))
    assert [issue.column for issue in result.rows[0].problems] == [column]
    assert result.total is None


def test_entered_weights_must_add_up_to_90():
    rows = [RowInput(name="x", level1="产出指标", target="≥1个", actual="1个", weight="50"),
            RowInput(name="y", level1="效益指标", target="≥1个", actual="1个", weight="30")]
    result = score_table(TableInput(budget="1", executed="1", rows=rows))
    assert [issue.column for issue in result.problems] == ["分值"]


def test_overshoot_is_flagged_not_marked_down():
    rows = [RowInput(name="x", level1="产出指标", target="≥100人", actual="200人")]
    result = score_table(TableInput(budget="1", executed="1", rows=rows))
    assert result.rows[0].score == 90.0
    assert result.rows[0].notes and not result.rows[0].problems

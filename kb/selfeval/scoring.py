"""Scoring a 项目支出绩效自评表 by the standard rules (domain/monitoring-and-self-evaluation.md §2).

Pure: plain inputs in, a :class:`ScoreResult` out; no database, no files except the rules, which are
data (``kb/indicators/selfeval_rules.yaml``) so finance can change a default without a release. Every
result records the rules ``version`` it used. The spreadsheet reader, the web form and the bulk import
all go through :func:`score_table`, so a table scores the same wherever it comes from.

Arithmetic is in :class:`~decimal.Decimal` and each row is rounded half-up to 2 decimals before the
total is summed, as the rules say (float rounding would turn 10.415 into 10.41 on some rows).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import yaml

from kb import vocab
from kb.spreadsheets.values import parse_target, squeeze

RULES_PATH = vocab.REFERENCE_DIR / "selfeval_rules.yaml"
CENT = Decimal("0.01")
QUALITATIVE_WORDS = ("定性", "")
# Column names used in messages (the standard form's headers), so a reader can locate them.
TARGET, ACTUAL, WEIGHT, SCORE, EXPLANATION = "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"
BUDGET, EXECUTED = "全年预算数", "全年执行数"


@functools.cache
def load_rules() -> dict[str, Any]:
    """The scoring rules from ``selfeval_rules.yaml`` (read once per process)."""
    with RULES_PATH.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


@dataclass(frozen=True)
class Issue:
    """A problem (or a note) about one cell: ``column`` is the form's header, ``message`` says what to do."""

    column: str
    message: str


@dataclass(frozen=True)
class RowInput:
    """One 三级指标 row as written: target and actual as text (``≥500人``, ``480``, a 定性 grade)."""

    name: str
    level1: str
    target: str
    actual: str
    level2: str = ""
    weight: str = ""  # 分值 as entered ("" = default weights)
    entered_score: str = ""  # 得分 as entered (required for 定性)
    explanation: str = ""  # 偏差原因分析及改进措施
    nature: str = ""  # 定量 / 定性; inferred from the target when empty


@dataclass(frozen=True)
class TableInput:
    budget: str  # 全年预算数
    executed: str  # 全年执行数
    rows: Sequence[RowInput]
    initial_budget: str = ""  # 年初预算数 (shown, not scored)


@dataclass
class ExecutionScore:
    rate: float | None  # per cent, 2 decimals (95.0 = 95 %)
    score: float | None
    problems: list[Issue] = field(default_factory=list)


@dataclass
class RowScore:
    name: str
    level1: str
    nature: str
    weight: float | None
    target: str
    actual: str
    score: float | None = None
    met: bool | None = None
    grade: str = ""
    problems: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)


@dataclass
class ScoreResult:
    execution: ExecutionScore
    rows: list[RowScore]
    total: float | None
    grade: str | None
    problems: list[Issue] = field(default_factory=list)
    rules_version: str = ""

    @property
    def has_errors(self) -> bool:
        return bool(self.problems or self.execution.problems or any(row.problems for row in self.rows))

    def to_dict(self) -> dict[str, Any]:
        """The CONTRACT §7 shape (``kb selfeval score --json``), plus notes and the rules version."""
        return {
            "execution": {"rate": self.execution.rate, "score": self.execution.score},
            "rows": [{"name": r.name, "weight": r.weight, "target": r.target, "actual": r.actual, "score": r.score,
                      "problems": [f"{i.column}：{i.message}" for i in r.problems],
                      "notes": [f"{i.column}：{i.message}" for i in r.notes]} for r in self.rows],
            "total": self.total,
            "grade": self.grade,
            "problems": [f"{i.column}：{i.message}" for i in self.problems + self.execution.problems],
            "rules_version": self.rules_version,
        }


def round_score(value: Decimal) -> Decimal:
    """Half-up to 2 decimals (10.416… → 10.42, 9.444… → 9.44)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_amount(text: Any) -> Decimal | None:
    """A number as typed in a money or score cell (``1,200``, ``95万元``); None when it is not one."""
    if text is None:
        return None
    if isinstance(text, (int, float, Decimal)) and not isinstance(text, bool):
        return Decimal(repr(text)) if isinstance(text, float) else Decimal(text)
    cleaned = squeeze(str(text)).replace(",", "").removesuffix("万元").removesuffix("元")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def grade_of(total: float, rules: Mapping[str, Any] | None = None) -> str:
    """优 ≥ 90, 良 80–89.99, 中 60–79.99, 差 < 60 (thresholds from the rules)."""
    rules = rules or load_rules()
    for band in rules["grades"]:
        if total >= band["minimum"]:
            return band["grade"]
    return rules["grades"][-1]["grade"]


def score_execution(budget: Any, executed: Any, rules: Mapping[str, Any] | None = None) -> ExecutionScore:
    """执行率 = 全年执行数 ÷ 全年预算数; 得分 = 10 × min(执行率, 1)."""
    rules = rules or load_rules()
    budget_value, executed_value = parse_amount(budget), parse_amount(executed)
    problems = []
    if budget_value is None or budget_value <= 0:
        problems.append(Issue(BUDGET, "请填写全年预算数（万元，大于 0 的数字）。"))
    if executed_value is None or executed_value < 0:
        problems.append(Issue(EXECUTED, "请填写全年执行数（万元，不小于 0 的数字）。"))
    if problems:
        return ExecutionScore(None, None, problems)
    rate = executed_value / budget_value
    score = round_score(Decimal(rules["execution_points"]) * min(rate, Decimal(1)))
    return ExecutionScore(float(round_score(rate * 100)), float(score))


def category_of(level1: str, rules: Mapping[str, Any] | None = None) -> str | None:
    """The weight category of a 一级指标 (成本指标 counts with 产出); None when unknown."""
    rules = rules or load_rules()
    text = squeeze(level1 or "")
    if text in rules["category_points"]:
        return text
    return rules["category_aliases"].get(text)


def default_weights(level1s: Sequence[str], rules: Mapping[str, Any] | None = None) -> list[Decimal | None]:
    """Each row's weight: its category's points split equally; a category without rows gives its points
    to the others in proportion (no 满意度: 产出 56.25, 效益 33.75)."""
    rules = rules or load_rules()
    categories = [category_of(level1, rules) for level1 in level1s]
    present = {c for c in categories if c}
    points = {name: Decimal(str(value)) for name, value in rules["category_points"].items()}
    present_total = sum((points[c] for c in present), Decimal(0))
    if not present_total:
        return [None] * len(categories)
    scale = Decimal(str(rules["indicator_points"])) / present_total
    counts = {c: categories.count(c) for c in present}
    return [points[c] * scale / counts[c] if c else None for c in categories]


def score_table(table: TableInput, rules: Mapping[str, Any] | None = None) -> ScoreResult:
    """Score a whole 自评表: execution, every indicator row, total and grade; collect every problem."""
    rules = rules or load_rules()
    execution = score_execution(table.budget, table.executed, rules)
    problems: list[Issue] = []
    weights = _weights(table.rows, rules, problems)
    rows = [_score_row(row, weight, rules) for row, weight in zip(table.rows, weights)]
    if not rows:
        problems.append(Issue("绩效指标", "表中没有绩效指标行。请在“绩效指标”部分逐行填写一级、二级、三级指标及实际完成值。"))
    total = grade = None
    if rows and execution.score is not None and all(row.score is not None for row in rows):
        total_value = sum((Decimal(repr(row.score)) for row in rows), Decimal(repr(execution.score)))
        total = float(round_score(total_value))
        grade = grade_of(total, rules)
    return ScoreResult(execution, rows, total, grade, problems, str(rules.get("version", "")))


def _weights(rows: Sequence[RowInput], rules, problems: list[Issue]) -> list[Decimal | None]:
    entered = [parse_amount(row.weight) if (row.weight or "").strip() else None for row in rows]
    defaults = default_weights([row.level1 for row in rows], rules)
    filled = [w for w in entered if w is not None]
    if not filled:
        return defaults
    if len(filled) != len(rows):
        problems.append(Issue(WEIGHT, "分值只填了一部分行。请每行都填写分值（合计 90），或全部留空按默认分值计算。"))
        return defaults
    total = sum(filled, Decimal(0))
    if abs(total - Decimal(str(rules["indicator_points"]))) > CENT / 2:
        problems.append(Issue(WEIGHT, f"各指标分值合计为 {total.normalize():f}，应为 {rules['indicator_points']}。"
                                      "请调整分值，或全部留空按默认分值计算。"))
    return filled


def _nature(row: RowInput) -> str:
    nature = squeeze(row.nature or "")
    if nature in (vocab.Nature.QUANTITATIVE.value, vocab.Nature.QUALITATIVE.value):
        return nature
    return vocab.Nature.QUANTITATIVE.value if parse_target(row.target or "").is_number else vocab.Nature.QUALITATIVE.value


def _score_row(row: RowInput, weight: Decimal | None, rules) -> RowScore:
    nature = _nature(row)
    result = RowScore(row.name, row.level1, nature, float(weight) if weight is not None else None,
                      row.target, row.actual)
    if not (row.name or "").strip():
        result.problems.append(Issue("三级指标", "请填写三级指标名称。"))
    if category_of(row.level1, rules) is None:
        result.problems.append(Issue("一级指标", f"一级指标“{row.level1}”无法识别，应为 产出指标、效益指标、满意度指标 或 成本指标。"))
    if weight is None:
        return result
    if nature == vocab.Nature.QUANTITATIVE.value:
        score = _score_quantitative(row, weight, result, rules)
    else:
        score = _score_qualitative(row, weight, result, rules)
    if score is not None:
        result.score = float(round_score(score))
    if result.met is False and not (row.explanation or "").strip():
        result.problems.append(Issue(EXPLANATION, "该指标未达成年度指标值，请填写偏差原因分析及改进措施。"))
    return result


def _score_quantitative(row: RowInput, weight: Decimal, result: RowScore, rules) -> Decimal | None:
    target = parse_target(row.target or "")
    actual = parse_target(row.actual or "")
    if not target.is_number:
        result.problems.append(Issue(TARGET, f"定量指标的年度指标值“{row.target}”不是数字，请填写如 ≥500人、≤30天。"))
        return None
    if not actual.is_number:
        message = "请填写实际完成值（数字）。" if not (row.actual or "").strip() else \
            f"实际完成值“{row.actual}”不是数字，请只填写数字（可带单位）。"
        result.problems.append(Issue(ACTUAL, message))
        return None
    if actual.unit and target.unit and actual.unit != target.unit:
        result.problems.append(Issue(ACTUAL, f"实际完成值的单位“{actual.unit}”与年度指标值的单位“{target.unit}”不同，请统一单位。"))
        return None
    operator = target.operator
    if not operator:
        operator = "≥"
        result.notes.append(Issue(TARGET, "年度指标值没有写方向（≥、≤、=），已按 ≥ 计算。"))
    goal, value = Decimal(target.number), Decimal(actual.number)
    met, score = _quantitative(operator, goal, value, weight)
    result.met = met
    ratio = Decimal(str(rules["overshoot_ratio"]))
    if met and goal > 0 and ((operator in "≥>" and value > goal * (1 + ratio))
                             or (operator in "≤<" and value < goal * (1 - ratio))):
        result.notes.append(Issue(ACTUAL, f"实际完成值超出年度指标值 {int(ratio * 100)}% 以上，请说明原因"
                                          "（目标明显偏低的，复核时可能扣分）。"))
    _compare_entered(row, score, result)
    return score


def _quantitative(operator: str, target: Decimal, actual: Decimal, weight: Decimal) -> tuple[bool, Decimal]:
    """Met → full weight; else proportional (≥ >: actual ÷ target; ≤ <: target ÷ actual; =: 1 − |Δ| ÷ target)."""
    if operator in ("≥", ">"):
        if actual >= target:
            return True, weight
        return False, max(Decimal(0), weight * actual / target) if target > 0 else Decimal(0)
    if operator in ("≤", "<"):
        if actual <= target:
            return True, weight
        return False, weight * target / actual if target > 0 else Decimal(0)  # a ≤ 0 target exceeded scores 0
    if actual == target:
        return True, weight
    if target == 0:
        return False, Decimal(0)
    return False, weight * max(Decimal(0), 1 - abs(actual - target) / abs(target))


def _compare_entered(row: RowInput, score: Decimal, result: RowScore) -> None:
    entered = parse_amount(row.entered_score) if (row.entered_score or "").strip() else None
    if entered is not None and round_score(entered) != round_score(score):
        result.notes.append(Issue(SCORE, f"填写的得分 {entered.normalize():f} 与按规则计算的 "
                                         f"{round_score(score):f} 不同，以计算结果为准。"))


def qualitative_grade(text: str, rules: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
    """The 定性 grade band named by ``text`` (its full name or a short form), or None."""
    rules = rules or load_rules()
    word = squeeze(text or "")
    for band in rules["qualitative_grades"]:
        if word == band["grade"] or word in band.get("aliases", ()):
            return band
    return None


def _score_qualitative(row: RowInput, weight: Decimal, result: RowScore, rules) -> Decimal | None:
    band = qualitative_grade(row.actual, rules)
    names = "、".join(b["grade"] for b in rules["qualitative_grades"])
    if band is None:
        message = (f"定性指标请在实际完成值中选择档次：{names}。" if not (row.actual or "").strip()
                   else f"“{row.actual}”不是定性指标的档次，请改为：{names}。")
        result.problems.append(Issue(ACTUAL, message))
        return None
    result.grade, result.met = band["grade"], bool(band["met"])
    entered = parse_amount(row.entered_score) if (row.entered_score or "").strip() else None
    low, high = weight * Decimal(str(band["low"])), weight * Decimal(str(band["high"]))
    band_text = f"{round_score(low):f}–{round_score(high):f}"
    if entered is None:
        result.problems.append(Issue(SCORE, f"定性指标须由评价人打分：“{band['grade']}”的得分区间为 {band_text} 分，请填写得分。"))
        return None
    top = Decimal(str(band["high"])) >= 1
    inside = low <= entered <= high if top else low <= entered < high
    if not inside:
        result.problems.append(Issue(SCORE, f"得分 {entered.normalize():f} 不在“{band['grade']}”的区间 {band_text} 分"
                                            f"{'' if top else '（不含上限）'}内，请在区间内打分或改选档次。"))
        return None
    return entered

"""Quality checks for performance goals (目标申报) and for the library itself (``kb lint``).

The rules are data in ``kb/indicators/quality_rules.yaml`` (thresholds, word lists, severities and
the Chinese explanation and suggested fix of each), so finance can tune them without a release.
Checks take plain mappings, so the same code runs on a saved goal, on the unsaved form the browser
sends while someone types, and on library indicators.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from kb import vocab

RULES_PATH = vocab.REFERENCE_DIR / "quality_rules.yaml"
ERROR, WARNING = "error", "warning"
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
PLACEHOLDER = re.compile(r"(XX|xx|\*\*|××|＊＊)")


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, how serious, what is wrong and how to fix it, and where."""

    rule: str
    severity: str
    message: str
    fix: str
    row: int | None = None  # 1-based row of the goal's indicator table
    field: str = ""
    code: str = ""  # the library indicator concerned
    requirement: str = ""  # one of the five quality requirements (library lint)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"第 {self.row} 行：" if self.row else ""
        return f"{where}{self.message} 建议：{self.fix}"


class _Blank(dict):
    """Leaves unknown placeholders visible instead of raising (finance may edit the texts)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@functools.cache
def load_rules() -> dict[str, Any]:
    """The rules from ``quality_rules.yaml`` (read once per process)."""
    with RULES_PATH.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def project_categories() -> list[str]:
    """The project categories offered on the 申报表 form."""
    return list(load_rules()["project_categories"])


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(finding.is_error for finding in findings)


def parse_number(text: Any) -> float | None:
    """The number in a target (``"95"`` → 95.0); None when it is not a plain number."""
    text = vocab._squeeze(str(text if text is not None else "")).replace(",", "")
    return float(text) if NUMBER.match(text) else None


def is_rate(name: str, unit: str, rules: Mapping[str, Any] | None = None) -> bool:
    """A rate: measured in % or named …率/…比例 (needs a formula with numerator and denominator)."""
    rules = rules or load_rules()
    suffixes = rules["rules"]["unit_category"]["rate_suffixes"]
    return vocab.units().canonical(unit or "") == "%" or name.strip().endswith(tuple(suffixes))


def _make(rule_id: str, spec: Mapping[str, Any], values: Mapping[str, Any], **where: Any) -> Finding:
    values = _Blank({key: _text(value) for key, value in values.items()})
    return Finding(
        rule=rule_id,
        severity=spec.get("severity", WARNING),
        message=spec["explain"].format_map(values),
        fix=spec["fix"].format_map(values),
        requirement=spec.get("requirement", ""),
        **where,
    )


# For rule modules kept beside this one (kb.selfeval.value_checks): the same finding format.
make_finding = _make


def finding_order(finding: Finding) -> tuple[bool, int]:
    """Errors first, then by row."""
    return finding.severity != ERROR, finding.row or 0


def _text(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return "" if value is None else str(value)


# --------------------------------------------------------------------------------------------
# Goals
# --------------------------------------------------------------------------------------------

def check_goal(draft: Mapping[str, Any], *, library: Mapping[str, Mapping[str, Any]] | None = None,
               rules: Mapping[str, Any] | None = None) -> list[Finding]:
    """Check a goal in its plain form; errors block submission, warnings guide the reviewer.

    ``draft`` = ``{"project": {name, amount, category, kind, description}, "long_term_objective",
    "annual_objective", "rows": [{code, name, level1, level2, nature, operator, target, unit,
    formula}]}``; ``library`` maps indicator codes to their library form (reference values, units).
    Checks against observed values (上年实际, 取值范围) are in ``kb.selfeval.value_checks``.
    """
    rules = rules or load_rules()
    spec = rules["rules"]
    library = library or {}
    project = draft.get("project") or {}
    rows = [dict(row) for row in draft.get("rows") or []]
    findings: list[Finding] = []
    findings += _check_objectives(draft, project, spec)
    findings += _check_structure(rows, project, rules)
    for number, row in enumerate(rows, start=1):
        findings += _check_row(number, row, library.get(row.get("code") or ""), project, rules)
    findings += _check_all_100(rows, spec["all_targets_100"])
    findings += _check_duplicates(rows, spec["duplicate_rows"])
    return sorted(findings, key=finding_order)


def _check_objectives(draft, project, spec) -> list[Finding]:
    findings = []
    annual = (draft.get("annual_objective") or "").strip()
    long_term = (draft.get("long_term_objective") or "").strip()
    if not annual:
        findings.append(_make("annual_objective", spec["annual_objective"], {}, field="annual_objective"))
    if not long_term:
        findings.append(_make("long_term_objective", spec["long_term_objective"], {}, field="long_term_objective"))
    same = spec["same_objectives"]
    if annual and annual == long_term and project.get("kind") in same.get("only_kinds", [project.get("kind")]):
        findings.append(_make("same_objectives", same, {}, field="annual_objective"))
    for field, text in (("long_term_objective", long_term), ("annual_objective", annual)):
        word = _first_word(text, spec["vague_words"]["words"])
        if word:
            findings.append(_make("vague_objective", spec["vague_objective"], {"word": word, "text": text},
                                  field=field))
    return findings


def is_public_service(project: Mapping[str, Any], rules: Mapping[str, Any]) -> bool:
    """Projects serving the public need a 满意度 indicator (R12)."""
    category = (project.get("category") or "").strip()
    if category in rules["public_service_categories"]:
        return True
    if category and category != "其他":
        return False
    text = f"{project.get('name') or ''}{project.get('description') or ''}"
    return any(word in text for word in rules["public_service_words"])


def _check_structure(rows, project, rules) -> list[Finding]:
    spec = rules["rules"]
    findings = []
    level1s = {row.get("level1") for row in rows}
    required = ["required_output", "required_benefit", "required_cost"]
    if is_public_service(project, rules):
        required.insert(2, "required_satisfaction")
    for rule_id in required:
        if spec[rule_id]["level1"] not in level1s:
            findings.append(_make(rule_id, spec[rule_id], {}, field="rows"))
    outputs = [row for row in rows if row.get("level1") == "产出指标"]
    if outputs and not any(row.get("level2") == "数量指标" for row in outputs):
        findings.append(_make("output_quantity", spec["output_quantity"], {}, field="rows"))
    minimum = spec["min_rows"]["minimum"]
    if len(rows) < minimum:
        findings.append(_make("min_rows", spec["min_rows"], {"count": len(rows), "minimum": minimum}, field="rows"))
    return findings


def _check_row(number: int, row: dict, reference: Mapping[str, Any] | None, project, rules) -> list[Finding]:
    spec = rules["rules"]
    units = vocab.units()
    name = (row.get("name") or "").strip()
    target = (row.get("target") or "").strip()
    unit = units.canonical(row.get("unit") or "")
    formula = (row.get("formula") or "").strip() or (reference or {}).get("formula", "")
    values = {**row, "name": name, "target": target, "unit": unit}
    code = row.get("code") or ""

    def found(rule_id: str, field: str, **extra: Any) -> Finding:
        return _make(rule_id, spec[rule_id], {**values, **extra}, row=number, field=field, code=code)

    findings = []
    for text, field in ((name, "name"), (target, "target")):
        word = _first_word(text, spec["vague_words"]["words"])
        if word:
            findings.append(found("vague_words", field, word=word, text=text))
    word = _first_word(name, spec["input_as_goal"]["words"])
    if word:
        findings.append(found("input_as_goal", "name", word=word))
    number_value = parse_number(target)
    if row.get("nature") == vocab.Nature.QUALITATIVE:
        if unit:
            findings.append(found("qualitative_unit", "unit"))
        if not target or target == vocab.QUALITATIVE_OPERATOR:
            findings.append(found("qualitative_grade", "target"))
    else:
        if number_value is None:
            findings.append(found("quantitative_number", "target"))
        if not unit:
            findings.append(found("quantitative_unit", "unit"))
        elif not units.is_known(unit):
            findings.append(found("unknown_unit", "unit"))
        if is_rate(name, unit, rules) and not formula:
            findings.append(found("rate_formula", "formula"))
        mismatch = _unit_mismatch(name, unit, reference, rules)
        if mismatch:
            findings.append(found("unit_category", "unit", reason=mismatch))
        findings += _check_values(row, number_value, unit, reference, project, found, spec)
    if row.get("level2") == "时效指标" and not _states_deadline(row, unit, spec["timeliness_deadline"]):
        findings.append(found("timeliness_deadline", "target"))
    return findings


def _check_values(row, value, unit, reference, project, found, spec) -> list[Finding]:
    findings = []
    if value is None:
        return findings
    satisfaction = spec["satisfaction_range"]
    if row.get("level1") == "满意度指标" and unit == "%" and not (
        satisfaction["minimum"] <= value <= satisfaction["maximum"]
    ):
        findings.append(found("satisfaction_range", "target", operator=row.get("operator") or ""))
    amount = _float(project.get("amount"))
    if row.get("level1") == "成本指标" and amount and unit in ("万元", "元"):
        in_wan = value if unit == "万元" else value / 10_000
        if in_wan > amount:
            findings.append(found("cost_over_budget", "target", amount=amount))
    if reference:
        deviation = _reference_deviation(value, unit, reference, spec["reference_value"])
        if deviation is not None:
            findings.append(found("reference_value", "target", reference=deviation,
                                  operator=row.get("operator") or ""))
    return findings


def _reference_deviation(value: float, unit: str, reference: Mapping[str, Any], spec) -> str | None:
    """The library's target as text when this target is far from it, else None."""
    ref_value = parse_number(reference.get("target"))
    if ref_value is None or vocab.units().canonical(reference.get("unit") or "") != unit:
        return None
    if unit == "%":
        far = abs(value - ref_value) > spec["points"]
    elif ref_value > 0 and value > 0:
        far = value > ref_value * spec["ratio"] or value < ref_value / spec["ratio"]
    else:
        far = False
    return f"{reference.get('operator') or ''}{_text(ref_value)}" if far else None


def _unit_mismatch(name: str, unit: str, reference, rules) -> str:
    """Why ``unit`` does not fit the indicator (empty when it fits)."""
    if not unit:
        return ""
    units = vocab.units()
    spec = rules["rules"]["unit_category"]
    category = units.category(unit)
    if reference and reference.get("unit"):
        library_unit = units.canonical(reference["unit"])
        if units.category(library_unit) != category and library_unit != unit:
            return f"指标库中该指标的单位是“{library_unit}”，这里填了“{unit}”"
    if name.endswith(tuple(spec["rate_suffixes"])) and category not in ("比率", None) and unit != "%":
        return f"“…{name[-2:]}”是比率，应使用 %"
    if name.endswith(tuple(spec["count_suffixes"])) and category == "比率":
        return f"“…{name[-2:]}”是数量，不应使用 %"
    return ""


def _states_deadline(row: Mapping[str, Any], unit: str, spec) -> bool:
    if vocab.units().category(unit) in ("时间", "比率"):
        return True
    text = f"{row.get('name') or ''}{row.get('target') or ''}"
    return any(word in text for word in spec["time_words"])


def _check_all_100(rows, spec) -> list[Finding]:
    rates = [row for row in rows if vocab.units().canonical(row.get("unit") or "") == "%"
             and parse_number(row.get("target")) is not None]
    if len(rates) >= spec["minimum_rows"] and all(parse_number(row["target"]) == 100 for row in rates):
        return [_make("all_targets_100", spec, {"count": len(rates)}, field="target")]
    return []


def _check_duplicates(rows, spec) -> list[Finding]:
    counts = Counter((row.get("name") or "").strip() for row in rows)
    findings = []
    for number, row in enumerate(rows, start=1):
        name = (row.get("name") or "").strip()
        if name and counts[name] > 1:
            findings.append(_make("duplicate_rows", spec, {"name": name, "count": counts[name]}, row=number,
                                  field="name"))
            counts[name] = 0  # report each name once, at its first row
    return findings


def _first_word(text: str, words: Iterable[str]) -> str:
    return next((word for word in words if word and word in (text or "")), "")


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# The library (kb lint): 来源清晰、属性准确、单位精准、解释易懂、指标值客观
# --------------------------------------------------------------------------------------------

def check_indicator(data: Mapping[str, Any], rules: Mapping[str, Any] | None = None) -> list[Finding]:
    """Lint one library indicator (its YAML/API form) against the five quality requirements."""
    rules = rules or load_rules()
    spec = rules["library"]
    words = rules["rules"]["vague_words"]["words"]
    units = vocab.units()
    code = data.get("code") or ""
    name = (data.get("name") or "").strip()
    unit = units.canonical(data.get("unit") or "")
    target = (data.get("target") or "").strip()
    values = {**data, "name": name, "unit": unit, "target": target}

    def found(rule_id: str, field: str, **extra: Any) -> Finding:
        return _make(rule_id, spec[rule_id], {**values, **extra}, field=field, code=code)

    findings = []
    basis = data.get("basis") or []
    if not basis:
        findings.append(found("source_clear", "basis"))
    elif any(b.get("kind") == vocab.BasisKind.POLICY and not b.get("doc_no") for b in basis):
        findings.append(found("source_doc_no", "basis"))
    taxonomy = vocab.taxonomy()
    if not taxonomy.is_valid(data.get("level1") or "", data.get("level2") or ""):
        findings.append(found("attribute_taxonomy", "level2"))
    if "满意" in name and data.get("level1") != "满意度指标":
        findings.append(found("attribute_satisfaction", "level1"))
    quantitative = data.get("nature") == vocab.Nature.QUANTITATIVE
    reason = _library_unit_problem(name, unit, quantitative, rules)
    if reason:
        findings.append(found("unit_precise", "unit", reason=reason))
    definition = (data.get("definition") or "").strip()
    plain = spec["definition_plain"]
    if len(definition) < plain["minimum_length"]:
        findings.append(found("definition_plain", "definition", reason="缺失或过于简短"))
    elif len(definition) > plain["maximum_length"]:
        findings.append(found("definition_plain", "definition", reason=f"超过 {plain['maximum_length']} 字，不够简明"))
    if quantitative and is_rate(name, unit, rules) and not (data.get("formula") or "").strip():
        findings.append(found("rate_formula", "formula"))
    if PLACEHOLDER.search(target):
        findings.append(found("value_objective", "target", reason="是占位符，没有填写实际目标"))
    elif quantitative and parse_number(target) is None:
        findings.append(found("value_objective", "target", reason="不是数字"))
    elif not quantitative and not target:
        findings.append(found("value_objective", "target", reason="为空"))
    word = _first_word(name, words) or _first_word(target, words)
    if word:
        findings.append(found("value_vague", "name", word=word))
    return findings


def _library_unit_problem(name: str, unit: str, quantitative: bool, rules) -> str:
    units = vocab.units()
    if not quantitative:
        return "是定性指标不应有的单位" if unit else ""
    if not unit:
        return "缺失（定量指标必须有计量单位）"
    if not units.is_known(unit):
        return "不在全县统一的单位表中"
    return _unit_mismatch(name, unit, None, rules)


def lint_library(indicators: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """Lint every indicator (YAML/API form); findings carry the indicator code."""
    rules = load_rules()
    findings: list[Finding] = []
    for data in indicators:
        findings += check_indicator(data, rules)
    return findings

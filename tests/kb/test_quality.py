"""kb.quality: every rule fires where it should and stays quiet where it should not."""
from __future__ import annotations

import copy

import pytest

from kb import quality


def row(**overrides):
    data = {
        "code": "", "name": "服务人次", "level1": "产出指标", "level2": "数量指标", "nature": "定量",
        "operator": "≥", "target": "3000", "unit": "人次", "formula": "",
    }
    data.update(overrides)
    return data


GOOD_ROWS = [
    row(),
    row(name="服务合格率", level2="质量指标", target="95", unit="%", formula="合格次数 ÷ 服务次数 × 100%"),
    row(name="服务按期完成率", level2="时效指标", target="100", unit="%", formula="按期完成数 ÷ 计划数 × 100%"),
    row(name="人均服务成本", level1="成本指标", level2="经济成本指标", operator="≤", target="80", unit="元/人"),
    row(name="居民健康素养水平", level1="效益指标", level2="社会效益指标", target="25", unit="%",
        formula="具备素养人数 ÷ 调查人数 × 100%"),
    row(name="服务对象满意度", level1="满意度指标", level2="服务对象满意度指标", target="90", unit="%",
        formula="满意份数 ÷ 有效问卷份数 × 100%"),
]


def good_draft():
    return {
        "project": {"name": "2025年基本公共卫生服务项目", "amount": 1200, "category": "公共服务类", "kind": "延续",
                    "description": "为辖区居民提供基本公共卫生服务"},
        "long_term_objective": "2025—2027 年为全县居民提供 12 类基本公共卫生服务，居民健康素养水平达到 28%。",
        "annual_objective": "2025 年为全县居民提供 12 类基本公共卫生服务，服务 3000 人次以上。",
        "rows": copy.deepcopy(GOOD_ROWS),
    }


def rules_of(findings):
    return {finding.rule for finding in findings}


def findings_for(draft, library=None):
    return quality.check_goal(draft, library=library)


def test_a_good_goal_has_no_findings():
    assert findings_for(good_draft()) == []


def test_findings_carry_explanation_fix_and_place():
    draft = good_draft()
    draft["rows"][1]["target"] = "较好"
    [finding] = [f for f in findings_for(draft) if f.rule != "vague_words"]
    assert finding.rule == "quantitative_number" and finding.is_error
    assert finding.row == 2 and finding.field == "target"
    assert "服务合格率" in finding.message and "较好" in finding.message
    assert finding.fix and "建议" in str(finding)
    assert finding.to_dict()["severity"] == "error"


@pytest.mark.parametrize("level1, rule", [
    ("产出指标", "required_output"),
    ("效益指标", "required_benefit"),
    ("满意度指标", "required_satisfaction"),
    ("成本指标", "required_cost"),
])
def test_required_categories(level1, rule):
    draft = good_draft()
    other = "产出指标" if level1 != "产出指标" else "效益指标"
    padding = [row(name=f"补充{i}", level1=other, level2="数量指标" if other == "产出指标" else "社会效益指标")
               for i in range(3)]
    draft["rows"] = [r for r in draft["rows"] if r["level1"] != level1] + padding
    assert rule in rules_of(findings_for(draft))


def test_satisfaction_is_not_required_for_internal_projects():
    draft = good_draft()
    draft["project"].update(category="运转保障类", name="机关办公楼运行维护", description="保障机关正常运转")
    draft["rows"] = [r for r in draft["rows"] if r["level1"] != "满意度指标"]
    assert "required_satisfaction" not in rules_of(findings_for(draft))


def test_public_service_is_recognised_from_the_description_when_no_category():
    draft = good_draft()
    draft["project"]["category"] = ""
    draft["rows"] = [r for r in draft["rows"] if r["level1"] != "满意度指标"]
    assert "required_satisfaction" in rules_of(findings_for(draft))
    draft["project"].update(name="机关运转", description="办公设备维护")
    assert "required_satisfaction" not in rules_of(findings_for(draft))


def test_output_needs_a_quantity_indicator():
    draft = good_draft()
    draft["rows"] = draft["rows"][1:]
    assert "output_quantity" in rules_of(findings_for(draft))


def test_at_least_three_indicators():
    draft = good_draft()
    draft["rows"] = draft["rows"][:2]
    findings = findings_for(draft)
    [finding] = [f for f in findings if f.rule == "min_rows"]
    assert "只有 2 个" in finding.message and finding.is_error
    draft["rows"] = good_draft()["rows"][:3]
    assert "min_rows" not in rules_of(findings_for(draft))


def test_objectives_are_required_and_checked():
    draft = good_draft()
    draft["annual_objective"] = " "
    draft["long_term_objective"] = ""
    assert {"annual_objective", "long_term_objective"} <= rules_of(findings_for(draft))
    draft = good_draft()
    draft["annual_objective"] = draft["long_term_objective"]
    assert "same_objectives" in rules_of(findings_for(draft))
    draft["project"]["kind"] = "新增"  # a one-year new project may state the same goal twice
    assert "same_objectives" not in rules_of(findings_for(draft))
    draft["annual_objective"] = "进一步提高居民健康水平"
    [finding] = [f for f in findings_for(draft) if f.rule == "vague_objective"]
    assert "进一步" in finding.message and not finding.is_error


def test_quantitative_rows_need_number_and_unit():
    draft = good_draft()
    draft["rows"][0].update(target="3000人次", unit="")
    rules = rules_of(findings_for(draft))
    assert {"quantitative_number", "quantitative_unit"} <= rules


def test_rates_need_a_formula():
    draft = good_draft()
    draft["rows"][1]["formula"] = ""
    [finding] = [f for f in findings_for(draft) if f.rule == "rate_formula"]
    assert finding.row == 2
    # A library row takes the library's formula.
    draft["rows"][1]["code"] = "X-1"
    library = {"X-1": {"formula": "a ÷ b × 100%", "unit": "%", "target": "95", "operator": "≥"}}
    assert "rate_formula" not in rules_of(findings_for(draft, library))


def test_qualitative_rows():
    draft = good_draft()
    draft["rows"].append(row(name="制度执行情况", level2="质量指标", nature="定性", operator="定性", target="", unit="%"))
    rules = rules_of(findings_for(draft))
    assert {"qualitative_unit", "qualitative_grade"} <= rules
    draft["rows"][-1].update(target="符合相关规定", unit="")
    assert not {"qualitative_unit", "qualitative_grade", "quantitative_number"} & rules_of(findings_for(draft))


def test_unknown_units_are_flagged_and_aliases_accepted():
    draft = good_draft()
    draft["rows"][0]["unit"] = "人头"
    assert "unknown_unit" in rules_of(findings_for(draft))
    draft["rows"][0]["unit"] = "人·次"  # alias of 人次
    assert "unknown_unit" not in rules_of(findings_for(draft))


@pytest.mark.parametrize("field, text, word", [
    ("name", "服务水平有所提高", "有所提高"),
    ("name", "群众健康明显改善率", "明显改善"),
    ("target", "显著", "显著"),
    ("target", "较好", "较好"),  # a 定性 grade that says nothing checkable (issue 16)
])
def test_vague_words_in_rows(field, text, word):
    draft = good_draft()
    draft["rows"][0].update({field: text, "nature": "定性", "operator": "定性", "unit": ""}
                            if field == "target" else {field: text})
    [finding] = [f for f in findings_for(draft) if f.rule == "vague_words"]
    assert word in finding.message and finding.field == field and finding.is_error


def test_inputs_stated_as_goals():
    draft = good_draft()
    draft["rows"].append(row(name="资金到位率", level2="质量指标", operator="=", target="100", unit="%", formula="a÷b"))
    [finding] = [f for f in findings_for(draft) if f.rule == "input_as_goal"]
    assert finding.row == len(draft["rows"]) and "投入" in finding.message
    assert "input_as_goal" not in rules_of(findings_for(good_draft()))


def test_all_targets_100_percent():
    draft = good_draft()
    for r in draft["rows"]:
        if r["unit"] == "%":
            r["target"] = "100"
    assert "all_targets_100" in rules_of(findings_for(draft))
    draft["rows"][1]["target"] = "98"
    assert "all_targets_100" not in rules_of(findings_for(draft))


@pytest.mark.parametrize("target, fires", [("90", False), ("85", False), ("60", True), ("100", True)])
def test_satisfaction_range(target, fires):
    draft = good_draft()
    draft["rows"][5]["target"] = target
    assert ("satisfaction_range" in rules_of(findings_for(draft))) is fires


def test_unit_must_match_the_kind_of_indicator():
    draft = good_draft()
    draft["rows"][1]["unit"] = "个"  # a rate counted in 个
    [finding] = [f for f in findings_for(draft) if f.rule == "unit_category"]
    assert "比率" in finding.message
    draft = good_draft()
    draft["rows"].append(row(name="培训人数", unit="%", formula="a÷b"))  # a count in %
    assert "unit_category" in rules_of(findings_for(draft))


def test_unit_must_match_the_library():
    draft = good_draft()
    draft["rows"][0].update(code="X-1", unit="%", formula="a÷b")
    library = {"X-1": {"unit": "人次", "target": "3000", "operator": "≥", "formula": ""}}
    [finding] = [f for f in findings_for(draft, library) if f.rule == "unit_category"]
    assert "人次" in finding.message


@pytest.mark.parametrize("target, unit, reference, fires", [
    ("40", "%", "85", True), ("80", "%", "85", False),
    ("100000", "人次", "3000", True), ("4000", "人次", "3000", False),
])
def test_target_far_from_the_library_reference(target, unit, reference, fires):
    draft = good_draft()
    draft["rows"][4].update(code="X-1", target=target, unit=unit, name="居民健康素养水平")
    library = {"X-1": {"unit": unit, "target": reference, "operator": "≥", "formula": "a÷b"}}
    assert ("reference_value" in rules_of(findings_for(draft, library))) is fires


def test_cost_must_not_exceed_the_budget():
    draft = good_draft()
    draft["rows"].append(row(name="项目总成本", level1="成本指标", level2="经济成本指标", operator="≤",
                             target="1500", unit="万元"))
    assert "cost_over_budget" in rules_of(findings_for(draft))
    draft["rows"][-1]["target"] = "1100"
    assert "cost_over_budget" not in rules_of(findings_for(draft))


def test_duplicate_rows_reported_once():
    draft = good_draft()
    draft["rows"].append(copy.deepcopy(draft["rows"][0]))
    assert [f.row for f in findings_for(draft) if f.rule == "duplicate_rows"] == [1]


def test_timeliness_needs_a_deadline():
    draft = good_draft()
    draft["rows"].append(row(name="项目实施", level2="时效指标", nature="定性", operator="定性", target="达到预期", unit=""))
    assert "timeliness_deadline" in rules_of(findings_for(draft))
    draft["rows"][-1]["target"] = "6月30日前完成"
    assert "timeliness_deadline" not in rules_of(findings_for(draft))


def test_errors_come_before_warnings():
    draft = good_draft()
    draft["long_term_objective"] = ""
    draft["rows"][0]["unit"] = ""
    severities = [f.severity for f in findings_for(draft)]
    assert severities == sorted(severities)  # "error" < "warning"


def test_rules_are_data(monkeypatch):
    rules = copy.deepcopy(quality.load_rules())
    rules["rules"]["min_rows"]["minimum"] = 10
    rules["rules"]["vague_words"]["words"].append("服务人次")
    findings = quality.check_goal(good_draft(), rules=rules)
    assert {"min_rows", "vague_words"} <= rules_of(findings)


def test_parse_number():
    assert quality.parse_number("95") == 95 and quality.parse_number(" 1,200.5 ") == 1200.5
    assert quality.parse_number("≥95") is None and quality.parse_number("") is None


# --- library lint --------------------------------------------------------------------------

def library_indicator(**overrides):
    data = {
        "code": "T-001", "name": "学生资助政策覆盖率", "level1": "效益指标", "level2": "社会效益指标",
        "nature": "定量", "operator": "≥", "target": "100", "unit": "%",
        "definition": "符合条件的家庭经济困难学生获得资助的比例。",
        "formula": "获得资助学生数 ÷ 符合资助条件学生数 × 100%",
        "basis": [{"kind": "政策文件", "title": "学生资助资金管理办法", "doc_no": "财教〔2021〕310号"}],
    }
    data.update(overrides)
    return data


def test_a_good_library_indicator_passes():
    assert quality.check_indicator(library_indicator()) == []


@pytest.mark.parametrize("overrides, rule, requirement", [
    ({"basis": []}, "source_clear", "指标来源清晰"),
    ({"basis": [{"kind": "政策文件", "title": "办法"}]}, "source_doc_no", "指标来源清晰"),
    ({"level2": "数量指标"}, "attribute_taxonomy", "指标属性定性准确"),
    ({"name": "家长满意率"}, "attribute_satisfaction", "指标属性定性准确"),
    ({"unit": "人头"}, "unit_precise", "度量单位精准"),
    ({"unit": "个"}, "unit_precise", "度量单位精准"),
    ({"nature": "定性", "operator": "定性", "target": "达到预期"}, "unit_precise", "度量单位精准"),
    ({"definition": "覆盖率"}, "definition_plain", "指标解释通俗易懂"),
    ({"formula": ""}, "rate_formula", "指标解释通俗易懂"),
    ({"target": "XX"}, "value_objective", "指标值客观准确"),
    ({"target": "较高"}, "value_objective", "指标值客观准确"),
    ({"name": "资助覆盖面显著扩大率"}, "value_vague", "指标值客观准确"),
])
def test_library_lint_rules(overrides, rule, requirement):
    findings = quality.check_indicator(library_indicator(**overrides))
    matching = [f for f in findings if f.rule == rule]
    assert matching and matching[0].requirement == requirement and matching[0].code == "T-001"


def test_the_seed_library_has_no_lint_errors():
    from kb.services.library import indicator_to_dict  # noqa: F401  (the seed's YAML form is what we lint)
    import yaml

    from kb import SEED_DIR

    indicators = []
    for path in sorted((SEED_DIR / "departments").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        indicators += (data.get("indicator_set") or {}).get("indicators", [])
    indicators += yaml.safe_load((SEED_DIR / "indicators" / "common.yaml").read_text(encoding="utf-8"))["indicators"]
    findings = quality.lint_library(indicators)
    assert len(indicators) > 300
    assert [str(f) for f in findings if f.is_error] == []

import pytest
from marshmallow import ValidationError

from kb.schemas import DepartmentFileSchema, IndicatorSchema, problems_from
from tests.conftest import indicator_data


def errors_of(**overrides):
    with pytest.raises(ValidationError) as caught:
        IndicatorSchema().load(indicator_data(**overrides))
    return caught.value.normalized_messages()


def test_valid_indicator_is_normalised():
    loaded = IndicatorSchema().load(indicator_data(operator=">=", unit="％", target=95, level1="产出", level2="成本"))
    assert (loaded["operator"], loaded["unit"], loaded["target"]) == ("≥", "%", "95")
    assert (loaded["level1"], loaded["level2"]) == ("成本指标", "经济成本指标")
    assert loaded["state"] == "active"


def test_level2_must_belong_to_level1():
    assert "不属于一级指标" in errors_of(level1="效益指标", level2="数量指标")["level2"][0]


def test_quantitative_needs_unit_and_numeric_target():
    errors = errors_of(unit="", target="九十五")
    assert "计量单位" in errors["unit"][0]
    assert "应为数字" in errors["target"][0]


def test_qualitative_has_no_unit_and_operator_dingxing():
    errors = errors_of(nature="定性", operator="≥", target="明显改善", unit="%")
    assert "定性" in errors["operator"][0]
    assert "不应有计量单位" in errors["unit"][0]
    assert IndicatorSchema().load(indicator_data(nature="定性", operator="定性", target="明显改善", unit=""))


def test_missing_basis_and_empty_basis():
    data = indicator_data()
    del data["basis"]
    with pytest.raises(ValidationError) as caught:
        IndicatorSchema().load(data)
    assert "缺少必填字段" in caught.value.normalized_messages()["basis"][0]
    assert "至少填写一条指标来源" in errors_of(basis=[])["basis"][0]


def test_unknown_field_and_wrong_types():
    errors = errors_of(uint="%", name=["a"], keywords="助学金", basis=[{"kind": "传说", "title": "x"}])
    assert "未知字段" in errors["uint"][0]
    assert "应为文本" in errors["name"][0]
    assert "应为列表" in errors["keywords"][0]
    assert "来源类型只能是" in errors["basis"][0]["kind"][0]


def test_problems_name_file_entry_and_field():
    document = {"department": {"code": "1", "name": "x"}, "indicator_set": {"year": 2025, "indicators": [indicator_data(code="X-9", unit="")]}}
    with pytest.raises(ValidationError) as caught:
        DepartmentFileSchema().load(document)
    problems = problems_from(caught.value, "kb/departments/1.yaml")
    assert [(p.source, p.entry, p.field) for p in problems] == [("kb/departments/1.yaml", "指标 X-9", "unit")]
    assert str(problems[0]).startswith("kb/departments/1.yaml，指标 X-9，字段 unit：")


def test_dump_omits_default_extras():
    dumped = IndicatorSchema().dump(IndicatorSchema().load(indicator_data()))
    assert "state" not in dumped and "evidence" not in dumped
    assert list(dumped)[:3] == ["code", "name", "level1"]

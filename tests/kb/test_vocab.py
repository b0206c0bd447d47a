import pytest

from kb import vocab


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (("产出指标", "数量指标"), ("产出指标", "数量指标")),
        (("产出", "数量"), ("产出指标", "数量指标")),
        (("产出指标", "成本指标"), ("成本指标", "经济成本指标")),  # 88号 → 101号
        (("效益", "环境效益"), ("效益指标", "生态效益指标")),
        (("效果指标", "社会效益指标"), ("效益指标", "社会效益指标")),
        (("满意度指标", "社会公众或服务对象满意度指标"), ("满意度指标", "服务对象满意度指标")),
        (("产出 指标", "时效指标　"), ("产出指标", "时效指标")),
    ],
)
def test_taxonomy_maps_spellings_and_the_old_framework(given, expected):
    assert vocab.taxonomy().normalize(*given) == expected


def test_taxonomy_rejects_level2_of_another_level1():
    assert vocab.taxonomy().is_valid("产出指标", "数量指标")
    assert not vocab.taxonomy().is_valid("效益指标", "数量指标")


@pytest.mark.parametrize(("given", "expected"), [("％", "%"), ("百分比", "%"), ("㎡", "平方米"), ("元/人/月", "元/人·月"), ("人", "人"), ("光年", "光年")])
def test_units_are_canonicalised(given, expected):
    assert vocab.units().canonical(given) == expected


def test_unit_categories():
    assert vocab.units().category("％") == "比率"
    assert vocab.units().category("光年") is None


@pytest.mark.parametrize(("given", "expected"), [(">=", "≥"), ("＜＝", "≤"), ("＝", "="), ("不低于", "≥"), ("≥", "≥")])
def test_operators_are_canonicalised(given, expected):
    assert vocab.canonical_operator(given) == expected

"""Cell values ↔ operator / number / unit, list cells, and formula neutralisation."""
from decimal import Decimal

import pytest

from kb.spreadsheets.values import (
    canonical_basis_kind,
    cell_text,
    clean_name,
    is_placeholder,
    neutralize,
    number_text,
    parse_target,
    split_basis,
    split_list,
    unescape_formula_guard,
)


@pytest.mark.parametrize("typed, operator, number, unit", [
    ("≥95%", "≥", "95", "%"),
    ("＞＝ 95 ％", "≥", "95", "%"),          # full-width symbols and spaces
    (">=95", "≥", "95", ""),
    ("=<3", "≤", "3", ""),
    ("≤ 30 天", "≤", "30", "天"),
    ("=100%", "=", "100", "%"),
    ("12,000人", "", "12000", "人"),        # thousands separator
    ("１２０００人", "", "12000", "人"),     # full-width digits
    ("28.8万元", "", "28.8", "万元"),
    ("≥80M", "≥", "80", "米"),              # unit alias
    ("100百分比", "", "100", "%"),
    ("95%以上", "≥", "95", "%"),            # direction written after the number
    ("3个工作日以内", "≤", "3", "个工作日"),
    (".5", "", "0.5", ""),
    ("-5", "", "-5", ""),
    ("不低于90%", "≥", "90", "%"),
])
def test_parse_target_splits_operator_number_unit(typed, operator, number, unit):
    parsed = parse_target(typed)
    assert (parsed.operator, parsed.number, parsed.unit) == (operator, number, unit)


@pytest.mark.parametrize("typed", ["达到预期", "应保尽保", "2024年12月31日前", "≥95%以下", "百分之九十五"])
def test_parse_target_keeps_text_that_is_not_a_number(typed):
    parsed = parse_target(typed)
    assert not parsed.is_number and parsed.text == typed and parsed.operator == ""


@pytest.mark.parametrize("text", ["XX", "≥**%", "xx人", "某某", "待定"])
def test_placeholders_are_recognised(text):
    assert is_placeholder(text)


def test_ordinary_values_are_not_placeholders():
    assert not is_placeholder("95") and not is_placeholder("达到预期")


@pytest.mark.parametrize("value, percent, expected", [
    (95.0, False, "95"), (12000, False, "12000"), (0.1 + 0.2, False, "0.3"), (0.955, True, "95.5"),
    (0.95, True, "95"), (1, True, "100"), (Decimal("1.50"), False, "1.5"), (-0.0, False, "0"),
])
def test_number_text(value, percent, expected):
    assert number_text(value, percent=percent) == expected


def test_cell_text_of_numbers_dates_and_guarded_text():
    import datetime

    assert cell_text(None) == ""
    assert cell_text(95.0) == "95"
    assert cell_text(datetime.datetime(2025, 6, 30)) == "2025-06-30"
    assert cell_text("'=SUM(A1)") == "=SUM(A1)"   # our own export guard is removed on import
    assert cell_text("'abc") == "'abc"             # an apostrophe before ordinary text stays


@pytest.mark.parametrize("text", ["=1+2", "+86", "-x", "@SUM(A1)", "\tTAB", "\rCR"])
def test_neutralize_prefixes_formula_triggers_and_import_undoes_it(text):
    safe = neutralize(text)
    assert safe == "'" + text
    assert unescape_formula_guard(safe) == text


def test_neutralize_drops_nul_then_guards_what_follows():
    # NUL cannot be written into an .xlsx at all (issue 14 item 5): it is dropped, the rest guarded.
    assert neutralize("\0=1+2") == "'=1+2"


def test_neutralize_leaves_ordinary_text():
    assert neutralize("学生资助") == "学生资助" and neutralize("") == ""


def test_split_list_respects_brackets_and_lines():
    assert split_list("培训、人次；考核, 技能") == ["培训", "人次", "考核", "技能"]
    assert split_list("学生资助（助学金、免学杂费）、营养餐") == ["学生资助（助学金、免学杂费）", "营养餐"]
    assert split_list("甲、乙\n丙") == ["甲、乙", "丙"]
    assert split_list("") == []


def test_split_basis_keeps_positions_when_asked():
    assert split_basis("政策文件；计划标准") == ["政策文件", "计划标准"]
    assert split_basis("；财教〔2021〕310号", keep_empty=True) == ["", "财教〔2021〕310号"]
    assert split_basis("《办法》、《细则》") == ["《办法》、《细则》"]


def test_basis_kind_aliases_and_names():
    assert canonical_basis_kind("历史数据") == "历史标准"
    assert canonical_basis_kind(" 其它 ") == "其他"
    assert clean_name("学生\n资助　覆盖率 ") == "学生 资助 覆盖率"

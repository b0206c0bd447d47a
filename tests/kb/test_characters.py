"""Forbidden characters (issue 14 item 5): refused on input by the shared schema, scrubbed on output."""
import pytest
from marshmallow import ValidationError

from kb.characters import forbidden_message, scrub
from kb.schemas import DepartmentSchema, IndicatorSchema
from tests.conftest import indicator_data

BAD = {
    "BEL/ESC": "学生\x07\x1b资助",
    "NUL": "学生\x00资助",
    "lone surrogate": "学生\ud800资助",
    "zero-width space": "学生\u200b资助",
    "bidi override": "学生\u202e助资",
    "bidi isolate": "学生\u2066资助",
    "BOM": "\ufeff学生资助",
    "DEL": "学生\x7f资助",
}


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("field", ["name", "definition", "formula", "data_source", "remarks"])
def test_schema_refuses_forbidden_characters_with_a_located_message(field, value):
    with pytest.raises(ValidationError) as caught:
        IndicatorSchema().load(indicator_data(**{field: value}))
    [message] = caught.value.messages[field]
    position = next(i for i, char in enumerate(value, start=1) if char not in "学生资助")
    assert f"第 {position} 个字符是" in message and "请删除" in message


def test_lists_and_basis_are_checked_too():
    with pytest.raises(ValidationError) as caught:
        IndicatorSchema().load(indicator_data(keywords=["好\x1b"], basis=[{"kind": "计划标准", "title": "方案\u202e"}]))
    assert "keywords" in caught.value.messages and "basis" in caught.value.messages


def test_names_are_one_line_but_free_text_may_have_line_breaks_and_tabs():
    with pytest.raises(ValidationError) as caught:
        IndicatorSchema().load(indicator_data(name="第一行\n第二行"))
    assert "换行符" in caught.value.messages["name"][0]
    with pytest.raises(ValidationError):
        DepartmentSchema().load({"code": "990", "name": "教育局\r\n（新）"})
    loaded = IndicatorSchema().load(indicator_data(definition="第一行\n第二行\t说明"))
    assert loaded["definition"] == "第一行\n第二行\t说明"


def test_ordinary_chinese_text_passes():
    assert forbidden_message("县教育局 2025 年度学生资助覆盖率 ≥ 95%（含“两免一补”）") is None


def test_scrub_keeps_line_breaks_and_removes_the_rest():
    assert scrub("a\x07b\x1bc\u202ed\u200be\x00f\ng\th") == "abcdef\ng\th"
    assert scrub("x\ud800y") == "x\ufffdy"

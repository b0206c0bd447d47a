"""Our analyzer, tested directly (search/analysis.py)."""
from __future__ import annotations

import pytest

from search.analysis import (
    Analyzer, Homophones, PinyinLexicon, Synonyms, highlight, looks_like_pinyin, normalize, pinyin_full,
    pinyin_initials,
)


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(["高标准农田", "亮灯率"])


@pytest.mark.parametrize("raw, expected", [
    ("ＬＥＤ节能光源", "led节能光源"),
    ("６５岁", "65岁"),
    ("完成率≥95％", "完成率≥95%"),
    ("完成率>=95%", "完成率≥95%"),
    ("高齡津貼發放人數", "高龄津贴发放人数"),
    ("  多个   空格 ", "多个 空格"),
])
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_single_characters_digits_and_symbols_survive(analyzer: Analyzer) -> None:
    tokens = analyzer.tokens("65岁老人覆盖率≥95%")
    assert "65" in tokens and "95" in tokens and "%" in tokens and "≥" in tokens
    assert "率" in analyzer.tokens("率")


def test_no_english_stemming(analyzer: Analyzer) -> None:
    assert "buildings" in analyzer.tokens("Buildings 改造")


def test_user_words_are_kept_whole_and_split_into_sub_words(analyzer: Analyzer) -> None:
    tokens = analyzer.tokens("高标准农田建设面积")
    assert "高标准农田" in tokens and "农田" in tokens and "高标准" in tokens


def test_added_words_take_effect(analyzer: Analyzer) -> None:
    analyzer.add_words(["日产日清"])
    assert "日产日清" in analyzer.tokens("生活垃圾日产日清率")


def test_pinyin_helpers() -> None:
    assert pinyin_full("满意度") == "manyidu"
    assert pinyin_initials("满意度") == "myd"
    assert looks_like_pinyin("yusuan zhixinglv") and not looks_like_pinyin("预算") and not looks_like_pinyin("a1")


def test_pinyin_lexicon_reads_full_spelling_and_initials() -> None:
    lexicon = PinyinLexicon(["预算执行率", "服务对象满意度", "高标准农田面积"])
    assert lexicon.to_chinese("yszxl") == ["预算执行率"]
    assert lexicon.to_chinese("manyidu") == ["满意度"]
    assert lexicon.to_chinese("gaobiaozhun nongtian mianji") == ["高标准农田面积"]
    assert lexicon.to_chinese("nongtian mianji") == ["农田 面积"]
    assert lexicon.to_chinese("qwrty") == []


def test_synonyms_expand_both_ways() -> None:
    synonyms = Synonyms([["满意度", "满意率"], ["及时", "按时", "准时"]])
    assert synonyms.equivalents("满意率") == {"满意度"}
    assert ("按时", "及时") in synonyms.expand("资金按时拨付")
    assert len(synonyms) == 4


def test_homophones_repair_typos_against_known_words() -> None:
    known = {"高血压": 5, "血压": 5, "患者": 5, "率": 50, "发放": 9, "处理": 3}
    repair = Homophones()
    for word, frequency in known.items():
        repair.add([word], weight=frequency)
    assert repair.correct("高学压患者", known) == "高血压患者"
    assert repair.correct("处理律", known) == "处理率"
    assert repair.correct("处理律", known, single=False) == "处理律"
    assert repair.correct("患者", known) == "患者"


def test_highlight_marks_and_escapes() -> None:
    assert highlight("路灯亮灯率", ["路灯"]) == "<mark>路灯</mark>亮灯率"
    assert highlight("<b>路灯</b>", ["路灯"]) == "&lt;b&gt;<mark>路灯</mark>&lt;/b&gt;"
    assert highlight("ＬＥＤ灯", ["led"]) == "<mark>ＬＥＤ</mark>灯"

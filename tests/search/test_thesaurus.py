"""The general thesaurus: built from cnsyn gated by the library's words, expanded below the typed words."""
from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

from search.analysis import Analyzer, Homophones, PinyinLexicon, Synonyms
from search.planner import SYNONYM_WEIGHT, THESAURUS, plan_query

ROOT = Path(__file__).resolve().parents[2]


def _build_script():
    spec = importlib.util.spec_from_file_location("build_thesaurus", ROOT / "scripts" / "build_thesaurus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SIM_WORDS = "老人 老年人 长者 Elder\n物理 物理学 物质宇宙\n路灯 街灯\n街灯 路灯\n村 乡村 农村\n"


def test_build_keeps_only_groups_with_a_member_in_the_library_text() -> None:
    build = _build_script()
    groups = build.gate(build.read_groups(SIM_WORDS.splitlines()), "65岁及以上老年人健康管理率；路灯亮灯率")
    # 物理 group has no member in the library; the duplicate 街灯/路灯 group is kept once; non-Chinese
    # and one-character members are dropped.
    assert groups == [["老人", "老年人", "长者"], ["路灯", "街灯"]]


def test_build_reads_the_wheel_and_writes_a_commented_tsv(tmp_path: Path, monkeypatch) -> None:
    build = _build_script()
    wheel = tmp_path / "cnsyn-1.2.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(build.DATA_MEMBER, SIM_WORDS)
    monkeypatch.setattr(build, "library_text", lambda: "路灯亮灯率")
    target = tmp_path / "thesaurus.tsv"
    assert build.main([str(wheel), "--output", str(target)]) == 0
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#") and "cnsyn" in lines[0] and "Apache" in lines[0]
    assert [line for line in lines if not line.startswith("#")] == ["路灯\t街灯"]


def _plan(text: str, frequencies: dict[str, int], thesaurus, synonyms=(), title_words=()):
    return plan_query(text, Analyzer(), lambda t: frequencies.get(t, 0), 100, Synonyms(synonyms),
                      lambda: PinyinLexicon([]), lambda: (Homophones(), {}), lambda t: t in title_words,
                      thesaurus=Synonyms(thesaurus))


def test_a_thesaurus_expansion_weighs_less_than_the_typed_word_and_the_synonyms() -> None:
    frequencies = {"老年人": 5, "健康": 8, "长者": 0, "老人家": 0}
    plan = _plan("长者健康", frequencies, [["长者", "老年人", "老人家"]])
    assert 0 < plan.terms["老年人"] < SYNONYM_WEIGHT < plan.terms["健康"]
    assert plan.origins["老年人"] == (THESAURUS, "长者")
    assert "老人家" not in plan.terms  # not in the index: no expansion into it


def test_a_strong_match_is_not_expanded_and_synonyms_win() -> None:
    frequencies = {"老年人": 5, "长者": 3, "健康": 8}
    plan = _plan("长者健康", frequencies, [["长者", "老年人"]], title_words={"长者"})
    assert "老年人" not in plan.terms
    plan = _plan("长者健康", frequencies, [["长者", "老年人"]], synonyms=[["长者", "老年人"]])
    assert plan.terms["老年人"] == SYNONYM_WEIGHT and plan.origins["老年人"][0] == "同义词"

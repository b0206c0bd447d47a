"""Hits explain themselves, and words no document contains still find their neighbours (n-gram signal)."""
from __future__ import annotations

from pathlib import Path

import pytest

from search.base import Document, FieldSpec, SearchQuery
from search.whoosh_backend import WhooshBackend

FIELDS = (FieldSpec("name", 8.0, exact=True, highlight=True, title=True), FieldSpec("definition", 1.5))
DOCS = [
    Document("A", {"name": "农村危房改造户数", "definition": "完成危房改造的农户数"}),
    Document("B", {"name": "群众满意度", "definition": "受访群众满意的比例"}),
    Document("C", {"name": "道路养护里程", "definition": "完成养护的农村公路里程"}),
]


@pytest.fixture
def backend(tmp_path: Path):
    engine = WhooshBackend(FIELDS, index_dir=tmp_path / "ix", synonyms=[["满意度", "满意率"]])
    engine.rebuild(DOCS)
    yield engine
    engine.close()


def test_each_hit_says_which_words_matched_and_how_they_entered_the_query(backend) -> None:
    hit = backend.search(SearchQuery(text="群众满意率")).hits[0]
    assert hit.key == "B"
    reasons = {(r.term, r.kind, r.source) for r in hit.reasons}
    assert ("群众", "输入词", "群众") in reasons and ("满意度", "同义词", "满意率") in reasons


def test_an_unknown_word_reaches_the_words_sharing_its_characters(backend) -> None:
    hits = backend.search(SearchQuery(text="修房子")).hits
    assert hits and hits[0].key == "A"
    assert any(r.kind == "字面相近" and r.source == "修房子" for r in hits[0].reasons)


def test_the_ngram_signal_can_be_switched_off_to_measure_it(tmp_path: Path) -> None:
    engine = WhooshBackend(FIELDS, index_dir=tmp_path / "ix", disabled=["ngram"])
    engine.rebuild(DOCS)
    try:
        assert not engine.search(SearchQuery(text="修房子")).hits
    finally:
        engine.close()

"""Decoded documents remembered per segment (search/whoosh_documents.py) answer exactly what Whoosh's stored
fields say, after edits too, and the cache stays within its bound."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from kb.indexing import INDICATOR_FIELDS, iter_documents, search_options
from search.base import Document, SearchQuery
from search.reader import Candidate
from search.whoosh_backend import WhooshBackend


@pytest.fixture()
def backend(seeded: Session, tmp_path: Path) -> WhooshBackend:
    backend = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path, **search_options())
    backend.rebuild(list(iter_documents(seeded)))
    yield backend
    backend.close()


def _fresh(searcher, docnum: int) -> Candidate:
    stored = searcher.stored_fields(docnum)
    return Candidate.from_stored(stored["key"], 0.5, stored["data"])


def test_remembered_candidates_equal_freshly_decoded_ones_across_segments(seeded: Session,
                                                                           backend: WhooshBackend) -> None:
    documents = list(iter_documents(seeded))
    for n, document in enumerate(documents[:30:3]):  # new segments; the replaced documents stay, deleted
        text = {**document.text, "definition": f"修订后的解释第{n}条"}
        backend.upsert([Document(key=document.key, text=text, facets=document.facets, fingerprint=f"e{n}")])
    reader = backend._reader()
    searcher = reader.searcher
    assert len(searcher.reader().leaf_readers()) >= 3
    live = [d for d in range(searcher.doc_count_all()) if not searcher.reader().is_deleted(d)]
    for _ in range(2):  # decoded, then remembered
        assert [reader._candidate(d, 0.5) for d in live] == [_fresh(searcher, d) for d in live]
    assert len(backend._documents) == len(live)
    backend.rebuild(documents[::-1])  # the same document numbers now hold other documents
    reader = backend._reader()
    every = range(reader.searcher.doc_count_all())
    assert [reader._candidate(d, 0.5) for d in every] == [_fresh(reader.searcher, d) for d in every]


def test_an_edit_is_searched_with_its_new_text_not_a_remembered_one(seeded: Session,
                                                                      backend: WhooshBackend) -> None:
    document = next(d for d in iter_documents(seeded) if d.text.get("definition"))
    query = SearchQuery(text=document.text["name"], limit=5)
    before = next(h for h in backend.search(query).hits if h.key == document.key)
    assert "修订后的解释" not in before.highlights.get("definition", "")
    text = {**document.text, "definition": f"{document.text['definition']}修订后的解释"}
    backend.upsert([Document(key=document.key, text=text, facets=document.facets, fingerprint="edited")])
    after = next(h for h in backend.search(query).hits if h.key == document.key)
    assert "修订后的解释" in after.highlights["definition"]


def test_the_cache_keeps_at_most_its_bound_and_the_most_recent(seeded: Session, tmp_path: Path) -> None:
    backend = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path, document_cache=5, **search_options())
    try:
        backend.rebuild(list(iter_documents(seeded)))
        reader = backend._reader()
        for docnum in range(8):
            reader._candidate(docnum, 1.0)
        reader._candidate(3, 1.0)  # used again: the newest
        reader._candidate(8, 1.0)
        assert sorted(local for _, local in backend._documents._decoded) == [3, 5, 6, 7, 8]
    finally:
        backend.close()

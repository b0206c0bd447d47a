"""Block-at-a-time BM25F (search/whoosh_scoring.py) gives exactly Whoosh's own scores: same documents, same
floats, same cap, same order — on an index of several segments with deleted documents."""
from __future__ import annotations

import heapq
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from whoosh.query import Term

from kb.indexing import INDICATOR_FIELDS, iter_documents, search_options
from search import whoosh_build
from search.base import Document
from search.whoosh_backend import WhooshBackend
from search.whoosh_scoring import best_documents, term_scores


def _whoosh_walk(searcher, fieldname: str, text: str, boost: float, cap: float) -> list[tuple[int, float]]:
    """Whoosh's scorer, posting by posting (what the backend did before)."""
    found, walked = [], 0
    for leaf, offset in searcher.leaf_searchers():
        matcher = Term(fieldname, text, boost=boost).matcher(leaf)
        while matcher.is_active() and walked < cap:
            found.append((matcher.id() + offset, matcher.score()))
            matcher.next()
            walked += 1
    return found


@pytest.fixture()
def edited_backend(seeded: Session, tmp_path: Path, monkeypatch) -> WhooshBackend:
    monkeypatch.setattr(whoosh_build, "PARALLEL_FROM", 1)
    backend = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path, build_procs=2, **search_options())
    documents = list(iter_documents(seeded))
    backend.rebuild(documents)
    for n, document in enumerate(documents[:40:3]):  # replaced documents stay in their segment, deleted
        text = {**document.text, "definition": f"{document.text.get('definition', '')} 修订说明第{n}条 满意度"}
        backend.upsert([Document(key=document.key, text=text, facets=document.facets, fingerprint=f"e{n}")])
    backend.delete([documents[50].key])
    yield backend
    backend.close()


def test_term_scores_equal_whoosh_scorer_to_the_last_bit(edited_backend: WhooshBackend) -> None:
    searcher = edited_backend._searcher()
    assert len(searcher.leaf_searchers()) >= 3 and searcher.reader().has_deletions()
    vocabulary = edited_backend._reader().vocabulary().frequencies
    words = sorted(vocabulary, key=lambda w: -vocabulary[w])[:40] + ["修订说明", "没有这个词"]
    checked = 0
    for word in words:
        for group in edited_backend._groups:
            fieldname = f"t_{group}"
            for boost, cap in ((1.0, float("inf")), (2.1, float("inf")), (0.7, 9)):
                ids, scores = term_scores(searcher, fieldname, word, boost, cap)
                expected = _whoosh_walk(searcher, fieldname, word, boost, cap)
                assert list(zip(ids.tolist(), scores.tolist())) == expected, (word, group, boost, cap)
                checked += len(expected)
    assert checked > 1000


def test_best_documents_equal_a_walk_summed_and_ranked_like_heapq(edited_backend: WhooshBackend) -> None:
    searcher = edited_backend._searcher()
    groups = list(edited_backend._groups)
    clauses = [(word, f"t_{group}", weight) for word, weight in (("满意度", 1.0), ("学生", 0.7), ("资金", 1.3))
               for group in groups]
    everything = set(range(searcher.doc_count_all()))
    for cap, limit, allowed, banned in ((float("inf"), 30, None, set()), (25, None, None, {3, 4, 5}),
                                        (float("inf"), 10, set(range(0, len(everything), 2)), {10})):
        summed: dict[int, float] = {}
        for word, fieldname, weight in clauses:
            for docnum, score in _whoosh_walk(searcher, fieldname, word, weight, cap):
                summed[docnum] = summed.get(docnum, 0.0) + score
        kept = {d: v for d, v in summed.items() if (allowed is None or d in allowed) and d not in banned}
        expected = [(d, v) for v, d in heapq.nlargest(limit or len(kept), ((v, d) for d, v in kept.items()))]
        assert best_documents(searcher, clauses, cap, limit, allowed, banned) == expected
        assert expected

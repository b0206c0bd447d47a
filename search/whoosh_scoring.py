"""BM25F over whole posting blocks: the candidate scores of search/whoosh_backend.py, computed with numpy.

Whoosh scores a posting through about ten Python calls (matcher, boost wrapper, scorer, field-length column),
which made walking posting lists most of a query's time at 100k documents. Here each block of a posting list
is read as arrays (document numbers, term weights) and scored at once with the formula and the statistics of
:class:`whoosh.scoring.BM25FScorer` on the searcher (its idf, its live average lengths), in the same order of
operations, so every score is the float Whoosh computes (tests/search/test_whoosh_scoring.py). It reads the
W3 codec's blocks directly: Whoosh is pinned at 2.7.4, its last release.
"""
from __future__ import annotations

import numpy as np

from search.whoosh_stats import segment_lengths


def _blocks(segment, fieldname: str, text: str):
    """(document numbers, weights) of each posting block of the term in ``segment``, deleted ones included."""
    if (fieldname, text) not in segment:
        return
    matcher = segment._terms.matcher(fieldname, segment._text_to_bytes(fieldname, text),
                                     segment.schema[fieldname].format)
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        yield np.asarray(matcher._ids, dtype=np.int64), np.asarray(matcher._weights, dtype=np.float64)
        matcher._next_block()


def live_postings(searcher, fieldname: str, text: str, cap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``cap`` live postings of a term in index order, as a matcher walk visits them: their global
    document numbers, term weights and field lengths."""
    parts = []
    room = cap
    for segment, offset in searcher.reader().leaf_readers():
        deleted = np.fromiter(segment.deleted_docs_set, dtype=np.int64) if segment.has_deletions() else None
        lengths = segment_lengths(segment, fieldname)
        for ids, weights in _blocks(segment, fieldname, text):
            if deleted is not None:
                live = ~np.isin(ids, deleted)
                ids, weights = ids[live], weights[live]
            if len(ids) > room:
                ids, weights = ids[:int(room)], weights[:int(room)]
            parts.append((ids + offset, weights, lengths[ids]))
            room -= len(ids)
            if room <= 0:
                break
        if room <= 0:
            break
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64)
    return tuple(np.concatenate(column) for column in zip(*parts))


def term_scores(searcher, fieldname: str, text: str, boost: float, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """Document numbers and BM25F scores × ``boost`` of the term's first ``cap`` live postings."""
    ids, tf, length = live_postings(searcher, fieldname, text, cap)
    weighting = searcher.weighting
    b, k1 = weighting._field_B.get(fieldname, weighting.B), weighting.K1
    idf = searcher.idf(fieldname, text)
    average = searcher.avg_field_length(fieldname) or 1
    # whoosh.scoring.bm25, operation for operation.
    scores = idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * length / average)))
    return ids, scores * boost


def best_documents(searcher, clauses, cap: float, limit: int | None, allowed: set[int] | None,
                   banned: set[int]) -> list[tuple[int, float]]:
    """(document number, summed score) of the best ``limit`` documents matching any of ``clauses`` (token,
    field, boost), best first, ties by the higher document number (as heapq.nlargest over (score, docnum))."""
    totals = np.zeros(searcher.doc_count_all())
    matched = np.zeros(len(totals), dtype=bool)
    for token, fieldname, boost in clauses:
        ids, scores = term_scores(searcher, fieldname, token, boost, cap)
        totals[ids] += scores  # a document occurs once per posting list: clause by clause, as a walk adds
        matched[ids] = True
    if allowed is not None:
        keep = np.zeros(len(totals), dtype=bool)
        keep[np.fromiter(allowed, dtype=np.int64, count=len(allowed))] = True
        matched &= keep
    if banned:
        matched[np.fromiter(banned, dtype=np.int64, count=len(banned))] = False
    docnums = np.flatnonzero(matched)
    order = np.lexsort((-docnums, -totals[docnums]))
    if limit is not None:
        order = order[:limit]
    return [(int(docnums[i]), float(totals[docnums[i]])) for i in order]

"""Decoded stored documents of a Whoosh index, remembered per segment (issue 15: one-word queries).

A one-word query re-ranks up to a thousand candidates, and Whoosh decompresses and unpickles each one's
stored fields (≈ 40 µs, half the time of such a query at 10k documents). A segment never changes once
written (deletions are kept beside it), so a document decoded once is kept under (segment id, document
number of the segment) in a bounded LRU, and the ranker gets a fresh :class:`Candidate` built from it.
"""
from __future__ import annotations

import sys
import threading
from bisect import bisect_right
from collections import OrderedDict
from typing import NamedTuple

from search.reader import Candidate
from search.whoosh_stats import segment_key

# Documents kept per process by default: a county's whole library several times over (≈ 5 KB each, ≈ 50 MB
# at the bound).
DOCUMENT_CACHE = 10_000


class _Decoded(NamedTuple):
    key: str
    rank: float
    facets: dict
    highlights: dict
    title_tokens: tuple[str, ...]
    tokens: frozenset[str]
    meaning: str  # packed (search/meaning.py)


class StoredDocuments:
    """Decoded documents of every segment this process read, at most ``kept`` of them (the least recently
    used go first). Shared by the threads of one backend; the candidates it returns share the decoded
    facets, highlights and tokens, which the ranker only reads."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._decoded: OrderedDict[tuple[str, int], _Decoded] = OrderedDict()
        self._lock = threading.Lock()

    def candidate(self, searcher, docnum: int, score: float) -> Candidate:
        segment, local = _locate(searcher, docnum)
        decoded = self._decoded.get((segment, local)) if segment is not None else None
        if decoded is None:
            decoded = _decode(searcher.stored_fields(docnum))
            if segment is not None and self.kept:
                with self._lock:
                    self._decoded[(segment, local)] = decoded
                    while len(self._decoded) > self.kept:
                        self._decoded.popitem(last=False)
        else:
            with self._lock:
                if (segment, local) in self._decoded:  # another thread may have just let it go
                    self._decoded.move_to_end((segment, local))
        return Candidate(decoded.key, score, decoded.rank, decoded.facets, decoded.highlights,
                         decoded.title_tokens, decoded.tokens, meaning=decoded.meaning)

    def __len__(self) -> int:
        return len(self._decoded)

    def clear(self) -> None:
        with self._lock:
            self._decoded.clear()


def _decode(stored: dict) -> _Decoded:
    data = stored["data"]
    # Interned: a word is held once however many documents keep it (a tenth of the memory per document).
    intern = sys.intern
    return _Decoded(stored["key"], data.get("rank", 1.0), dict(data.get("facets", {})), dict(data.get("hl", {})),
                    tuple(map(intern, data.get("tt", ()))), frozenset(map(intern, data.get("ct", "").split())),
                    data.get("mv", ""))


def _locate(searcher, docnum: int) -> tuple[str | None, int]:
    """(id of the segment holding the searcher's document ``docnum``, its number in that segment)."""
    layout = getattr(searcher, "segment_layout", None)
    if layout is None:
        leaves = searcher.reader().leaf_readers()
        layout = searcher.segment_layout = ([offset for _, offset in leaves], [segment_key(s) for s, _ in leaves])
    offsets, keys = layout
    if not offsets:
        return None, docnum
    at = bisect_right(offsets, docnum) - 1
    return keys[at], docnum - offsets[at]

"""Term statistics of live documents only, for a Whoosh searcher (issue 12: same library, same ranking).

Whoosh keeps a replaced or deleted document in its segment, marked deleted, until the segment is merged,
and its statistics (document count, document frequencies, field lengths) keep counting it. An index that
went through edits, new versions and bulk reloads then ranks differently from a fresh build of the same
documents. Merging those segments at every commit makes an edit cost seconds, so instead the searcher's
BM25F statistics are computed over live documents when its index has deletions: exactly what a fresh
build of the same documents would count.
"""
from __future__ import annotations

from math import log

from whoosh import scoring

from search.analysis import normalize


class LiveStatistics:
    """Document count, document frequencies and field lengths of a searcher's live documents."""

    def __init__(self, searcher) -> None:
        self.searcher = searcher
        self.count = searcher.doc_count()
        self._frequencies: dict[tuple[str, str], int] = {}

    def doc_frequency(self, fieldname: str, text) -> int:
        key = (fieldname, text)
        if key not in self._frequencies:
            reader = self.searcher.reader()
            # The posting lists of a segment with deletions skip deleted documents.
            self._frequencies[key] = (sum(1 for _ in reader.postings(fieldname, text).all_ids())
                                      if (fieldname, text) in reader else 0)
        return self._frequencies[key]

class LiveBM25F(scoring.BM25F):
    """Whoosh's BM25F, with the statistics of :class:`LiveStatistics` when the searcher has some."""

    def idf(self, searcher, fieldname, text):
        parent = searcher.get_parent()
        live = getattr(parent, "live_statistics", None)
        if live is None:
            return super().idf(searcher, fieldname, text)
        return log(live.count / (live.doc_frequency(fieldname, text) + 1)) + 1


def average_lengths(searcher) -> dict[str, float]:
    """Average field length of the live documents, from the per-document lengths Whoosh stores (rounded to
    a byte, so a fresh build and an edited index agree: the exact total Whoosh keeps counts deleted ones)."""
    reader = searcher.reader()
    live = list(reader.all_doc_ids())
    return {name: sum(reader.doc_field_length(d, name, 0) or 0 for d in live) / (len(live) or 1)
            for name, field in searcher.schema.items() if field.scorable}


def live_searcher(ix):
    """A searcher of ``ix`` that ranks like a fresh build of its live documents."""
    searcher = ix.searcher(weighting=LiveBM25F())
    searcher.live_statistics = LiveStatistics(searcher) if searcher.reader().has_deletions() else None
    averages = average_lengths(searcher)
    # What BM25FScorer asks its (parent) searcher.
    searcher.avg_field_length = lambda fieldname, default=None: averages.get(fieldname, default) or default
    return searcher


def live_vocabulary(searcher, titles: list[str], frequencies: dict[str, int], groups, title_field: str | None):
    """``titles`` and word ``frequencies`` (read from Whoosh's lexicons, which still hold deleted documents)
    corrected to the live documents: only the words of deleted documents can be off."""
    live = getattr(searcher, "live_statistics", None)
    if live is None:
        return titles, frequencies
    reader = searcher.reader()
    words: set[str] = set()
    gone_titles: set[str] = set()
    for docnum in range(searcher.doc_count_all()):
        if reader.is_deleted(docnum):
            stored = reader.stored_fields(docnum)
            words.update(stored["data"].get("ct", "").split())
            if title_field:
                gone_titles.add(normalize(stored["data"].get("hl", {}).get(title_field, "")))
    for word in words & frequencies.keys():
        frequency = max((live.doc_frequency(f"t_{group}", word) for group in groups), default=0)
        if frequency:
            frequencies[word] = frequency
        else:
            del frequencies[word]
    if title_field:
        titles = [t for t in titles if t not in gone_titles or live.doc_frequency(f"x_{title_field}", t)]
    return titles, frequencies

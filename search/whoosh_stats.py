"""Term statistics of live documents only, for a Whoosh searcher (issue 12: same library, same ranking).

Whoosh keeps a replaced or deleted document in its segment, marked deleted, until the segment is merged,
and its statistics (document count, document frequencies, field lengths) keep counting it. An index that
went through edits, new versions and bulk reloads then ranks differently from a fresh build of the same
documents. Merging those segments at every commit makes an edit cost seconds, so instead the searcher's
BM25F statistics are computed over live documents when its index has deletions: exactly what a fresh
build of the same documents would count.
"""
from __future__ import annotations

from collections import Counter, OrderedDict
from math import log

import numpy as np
from whoosh import scoring
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.util.numeric import byte_to_length

from search.analysis import normalize


class LiveStatistics:
    """Document count and document frequencies of a searcher's live documents, each frequency remembered
    (a searcher reads one index version; the ranker and the scorer ask for the same terms)."""

    def __init__(self, searcher) -> None:
        self.searcher = searcher
        self.count = searcher.doc_count()
        self._frequencies: dict[tuple[str, str], int] = {}

    def doc_frequency(self, fieldname: str, text) -> int:
        key = (fieldname, text)
        if key not in self._frequencies:
            total = 0
            for segment, _offset in self.searcher.reader().leaf_readers():
                if (fieldname, text) in segment:
                    total += segment.doc_frequency(fieldname, text) - _deleted_with(segment, fieldname, text)
            self._frequencies[key] = total
        return self._frequencies[key]


def _deleted(segment) -> frozenset[int]:
    return segment.deleted_docs_set if segment.has_deletions() else frozenset()


def _deleted_with(segment, fieldname: str, text) -> int:
    """How many deleted documents of ``segment`` hold the term. A segment's document frequency counts
    them; its postings skip them. Deleted documents are few (until a merge drops them), so each is looked
    up in the unfiltered posting list (skip_to jumps over whole blocks) instead of walking the live ones,
    which cost seconds per first search after an edit at 100k documents (docs/benchmarks.md)."""
    deleted = _deleted(segment)
    if not deleted:
        return 0
    # Whoosh's public postings() filters deletions out; the terms reader below it does not.
    matcher = segment._terms.matcher(fieldname, segment._text_to_bytes(fieldname, text),
                                     segment.schema[fieldname].format)
    count = 0
    for docnum in sorted(deleted):
        if matcher.is_active() and matcher.id() < docnum:
            matcher.skip_to(docnum)
        if not matcher.is_active():
            break
        count += matcher.id() == docnum
    return count


class LiveBM25F(scoring.BM25F):
    """Whoosh's BM25F, with the statistics of :class:`LiveStatistics` when the searcher has some."""

    def idf(self, searcher, fieldname, text):
        parent = searcher.get_parent()
        live = getattr(parent, "live_statistics", None)
        if live is None:
            return super().idf(searcher, fieldname, text)
        return log(live.count / (live.doc_frequency(fieldname, text) + 1)) + 1


def segment_key(segment) -> str | None:
    """The id of the segment a leaf reader reads (None for the reader of an empty index)."""
    info = segment.segment()
    return info.segment_id() if info is not None else None


def _once_per_segment(cache: OrderedDict, kept: int, key: tuple, compute):
    """``compute()`` for a segment, remembered under ``key`` (its first item the segment id): a segment never
    changes once written (deletions are kept beside it), so it is read once per process. Bounded LRU."""
    if key[0] is None:
        return compute()
    value = cache.get(key)
    if value is None:
        value = cache[key] = compute()
        if len(cache) > kept:
            cache.popitem(last=False)
    return value


# (segment id, field) → the field length of every document of the segment, deleted ones included.
_SEGMENT_LENGTHS: OrderedDict = OrderedDict()
# Whoosh stores a field length as one byte (whoosh.util.numeric.length_to_byte); 0 means none.
_BYTE_LENGTHS = np.array([0] + [byte_to_length(b) for b in range(1, 256)], dtype=np.int64)


def segment_lengths(segment, fieldname: str) -> np.ndarray:
    """Field lengths of ``segment``'s documents by document number, as Whoosh's ``doc_field_length`` gives
    them (0 for none), read in one go from its length column (the W3 codec's one byte per document)."""
    def read() -> np.ndarray:
        count = segment.doc_count_all()
        column = segment._perdoc._cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN) if count else None
        if column is None:
            return np.zeros(count, dtype=np.int64)
        stored = np.frombuffer(column._dbfile.get(column._basepos, column._count), dtype=np.uint8)
        codes = np.zeros(count, dtype=np.uint8)
        codes[:len(stored)] = stored[:count]
        return _BYTE_LENGTHS[codes]

    return _once_per_segment(_SEGMENT_LENGTHS, 1024, (segment_key(segment), fieldname), read)


def average_lengths(searcher) -> dict[str, float]:
    """Average field length of the live documents, from the per-document lengths Whoosh stores (rounded to
    a byte, so a fresh build and an edited index agree: the exact total Whoosh keeps counts deleted ones).
    Per segment (its lengths read once) less its deleted documents, so reopening after an edit reads only
    the new segment."""
    names = [name for name, field in searcher.schema.items() if field.scorable]
    totals = dict.fromkeys(names, 0)
    for segment, _offset in searcher.reader().leaf_readers():
        deleted = sorted(_deleted(segment))
        for name in names:
            lengths = segment_lengths(segment, name)
            totals[name] += int(lengths.sum()) - int(lengths[deleted].sum())
    live = searcher.doc_count() or 1
    return {name: total / live for name, total in totals.items()}


def live_searcher(ix):
    """A searcher of ``ix`` that ranks like a fresh build of its live documents."""
    searcher = ix.searcher(weighting=LiveBM25F())
    searcher.live_statistics = LiveStatistics(searcher)  # also remembers each frequency asked for
    averages = average_lengths(searcher)
    # What BM25FScorer asks its (parent) searcher.
    searcher.avg_field_length = lambda fieldname, default=None: averages.get(fieldname, default) or default
    return searcher


# (segment id, groups, title field) → the segment's title phrases and per-group word frequencies, deleted
# documents included (live_vocabulary corrects those). Reading them once per segment, rather than through
# Whoosh's multi-segment reader on every index version, keeps the first search after an edit cheap.
_SEGMENT_VOCABULARY: OrderedDict = OrderedDict()


def segment_vocabulary(segment, groups, title_field: str | None) -> tuple[set[str], dict[str, dict[str, int]]]:
    def text(term) -> str:
        return term.decode("utf-8") if isinstance(term, bytes) else term

    def read() -> tuple[set[str], dict[str, dict[str, int]]]:
        titles = {text(t) for t in segment.lexicon(f"x_{title_field}")} if title_field else set()
        return titles, {group: {text(term): info.doc_frequency() for term, info in segment.iter_field(f"t_{group}")}
                        for group in groups}

    return _once_per_segment(_SEGMENT_VOCABULARY, 32, (segment_key(segment), tuple(groups), title_field), read)


def live_vocabulary(searcher, groups, title_field: str | None) -> tuple[list[str], dict[str, int]]:
    """Title phrases (sorted) and word frequencies (a word's largest over ``groups``, in lexicon order) of the
    live documents: summed over segments (each read once, :func:`segment_vocabulary`), then corrected for
    deleted documents, which Whoosh's lexicons still hold — only their words can be off."""
    segments = [segment_vocabulary(segment, groups, title_field) for segment, _ in searcher.reader().leaf_readers()]
    titles = sorted(set().union(*(segment_titles for segment_titles, _ in segments)))
    frequencies: dict[str, int] = {}
    for group in groups:
        summed: Counter[str] = Counter()
        for _, by_group in segments:
            summed.update(by_group[group])
        for word in sorted(summed):  # in lexicon order, as a single segment lists them
            if summed[word] > frequencies.get(word, 0):
                frequencies[word] = summed[word]
    live = getattr(searcher, "live_statistics", None)
    if live is None or not searcher.reader().has_deletions():
        return titles, frequencies
    words: set[str] = set()
    gone_titles: set[str] = set()
    for segment, _offset in searcher.reader().leaf_readers():
        for docnum in _deleted(segment):
            stored = segment.stored_fields(docnum)
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

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


# Segment id → field → sum of the stored lengths of all its documents, deleted ones included. A segment
# never changes once written (deletions are kept beside it), so this is read once per segment and process.
_SEGMENT_LENGTHS: OrderedDict[str, dict[str, int]] = OrderedDict()
_SEGMENT_LENGTHS_KEPT = 256


def _segment_key(segment) -> str | None:
    """The id of the segment a leaf reader reads (None for the reader of an empty index)."""
    info = segment.segment() if hasattr(segment, "segment") else None
    return info.segment_id() if info is not None else None


def _segment_lengths(segment, names: list[str]) -> dict[str, int]:
    key = _segment_key(segment)
    totals = _SEGMENT_LENGTHS.get(key) if key else None
    if totals is None:
        documents = range(segment.doc_count_all())
        totals = {name: sum(segment.doc_field_length(d, name, 0) or 0 for d in documents) for name in names}
        if key is None:
            return totals
        _SEGMENT_LENGTHS[key] = totals
        if len(_SEGMENT_LENGTHS) > _SEGMENT_LENGTHS_KEPT:
            _SEGMENT_LENGTHS.popitem(last=False)
    return totals


def average_lengths(searcher) -> dict[str, float]:
    """Average field length of the live documents, from the per-document lengths Whoosh stores (rounded to
    a byte, so a fresh build and an edited index agree: the exact total Whoosh keeps counts deleted ones).
    Per segment: its total (cached) less its deleted documents, so reopening after an edit reads only the
    new segment."""
    names = [name for name, field in searcher.schema.items() if field.scorable]
    totals = dict.fromkeys(names, 0)
    for segment, _offset in searcher.reader().leaf_readers():
        lengths, deleted = _segment_lengths(segment, names), _deleted(segment)
        for name in names:
            totals[name] += lengths[name] - sum(segment.doc_field_length(d, name, 0) or 0 for d in deleted)
    live = searcher.doc_count() or 1
    return {name: total / live for name, total in totals.items()}


def live_searcher(ix):
    """A searcher of ``ix`` that ranks like a fresh build of its live documents."""
    searcher = ix.searcher(weighting=LiveBM25F())
    searcher.live_statistics = LiveStatistics(searcher) if searcher.reader().has_deletions() else None
    averages = average_lengths(searcher)
    # What BM25FScorer asks its (parent) searcher.
    searcher.avg_field_length = lambda fieldname, default=None: averages.get(fieldname, default) or default
    return searcher


# (segment id, groups, title field) → the segment's title phrases and per-group word frequencies, deleted
# documents included (live_vocabulary corrects those). Reading them once per segment, rather than through
# Whoosh's multi-segment reader on every index version, keeps the first search after an edit cheap.
_SEGMENT_VOCABULARY: OrderedDict[tuple, tuple[set[str], dict[str, dict[str, int]]]] = OrderedDict()
_SEGMENT_VOCABULARY_KEPT = 32


def segment_vocabulary(segment, groups, title_field: str | None) -> tuple[set[str], dict[str, dict[str, int]]]:
    key = (_segment_key(segment), tuple(groups), title_field)
    cached = _SEGMENT_VOCABULARY.get(key) if key[0] else None
    if cached is None:
        def text(term) -> str:
            return term.decode("utf-8") if isinstance(term, bytes) else term

        titles = {text(t) for t in segment.lexicon(f"x_{title_field}")} if title_field else set()
        by_group = {group: {text(term): info.doc_frequency() for term, info in segment.iter_field(f"t_{group}")}
                    for group in groups}
        cached = (titles, by_group)
        if key[0] is None:
            return cached
        _SEGMENT_VOCABULARY[key] = cached
        if len(_SEGMENT_VOCABULARY) > _SEGMENT_VOCABULARY_KEPT:
            _SEGMENT_VOCABULARY.popitem(last=False)
    return cached


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
    if live is None:
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

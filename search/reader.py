"""The backend-neutral query description and candidate list every engine speaks to the shared ranker.

The ranker (search/ranking.py) plans a user's text into weighted terms and asks the engine for
candidates with one :class:`MatchQuery`; each backend *compiles* that description for its own index
(Whoosh query objects and matchers, PostgreSQL SQL, Python sets for the in-memory engine), as
wagtail's search backends compile one query description per backend. What comes back is a list of
plain :class:`Candidate` values, so ranking never looks at an engine's types.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from search.analysis import Homophones, PinyinLexicon
from search.vectors import WordVectors


@dataclass(frozen=True)
class TermClause:
    """One token looked for in one field group; ``weight`` multiplies its score (group boost × term weight)."""

    token: str
    group: str
    weight: float = 1.0


@dataclass(frozen=True)
class MatchQuery:
    """Which documents to return, and how to score them.

    ``terms``: any of the clauses matches, scored by the engine (best ``limit`` returned);
    without terms, ``exact`` (field, normalised value) pairs match any of them, and without either every
    document matches (browsing), unscored. ``filters``: facet → allowed values (all facets must hold);
    ``exclude``: keys never returned.
    """

    terms: tuple[TermClause, ...] = ()
    exact: tuple[tuple[str, str], ...] = ()
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = ()
    limit: int | None = None


def facet_values(filters: Mapping[str, object]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The ``filters`` of a :class:`search.base.SearchQuery` as match filters (a tuple value means any)."""
    out = []
    for name, value in filters.items():
        values = value if isinstance(value, (tuple, list, set, frozenset)) else (value,)
        kept = tuple(str(v) for v in values if v not in (None, ""))
        if kept:
            out.append((name, kept))
    return tuple(out)


@dataclass
class Candidate:
    """A matching document as the ranker needs it (what every backend stores next to its index)."""

    key: str
    score: float
    rank: float = 1.0
    facets: dict[str, str] = field(default_factory=dict)
    highlights: dict[str, str] = field(default_factory=dict)  # field → original text to mark
    title_tokens: tuple[str, ...] = ()
    tokens: frozenset[str] = frozenset()  # every token of every field
    relevance: float = 0.0  # set by the ranker
    complete: bool = False  # set by the ranker: contains every word typed
    meaning: str = ""  # the document's packed sentence vector (search/meaning.py), unpacked only when asked
    meant: bool = False  # set by the ranker: moved up for its meaning

    @classmethod
    def from_stored(cls, key: str, score: float, data: Mapping) -> Candidate:
        """From the stored form written by :func:`stored_data`."""
        return cls(key=key, score=score, rank=data.get("rank", 1.0), facets=dict(data.get("facets", {})),
                   highlights=dict(data.get("hl", {})), title_tokens=tuple(data.get("tt", ())),
                   tokens=frozenset(data.get("ct", "").split()), meaning=data.get("mv", ""))


def stored_data(fingerprint: str, rank: float, facets: Mapping[str, str], highlights: Mapping[str, str],
                title_tokens: Iterable[str], tokens: Iterable[str], meaning: str = "") -> dict:
    """What a backend stores per document so it can answer with :class:`Candidate` values (JSON-able)."""
    data = {"fp": fingerprint, "rank": rank, "facets": dict(facets), "hl": dict(highlights),
            "tt": list(title_tokens), "ct": " ".join(dict.fromkeys(tokens))}
    if meaning:
        data["mv"] = meaning
    return data


class Vocabulary:
    """Title phrases (suggestions, pinyin, did-you-mean) and word frequencies (typo repair) of one index
    version; the lexicons built from them are made on first use."""

    def __init__(self, titles: list[str], frequencies: dict[str, int]) -> None:
        self.titles = titles
        self.frequencies = frequencies
        self._pinyin: PinyinLexicon | None = None
        self._homophones: Homophones | None = None
        self._vectors: tuple[WordVectors, WordVectors] | None = None
        # Document key → unit vector of its words (search.ranking), filled as documents turn up as candidates.
        self.document_vectors: dict[str, object] = {}

    def word_vectors(self, vectors: WordVectors) -> WordVectors:
        """The vectors of this index's own words (what a typed word may expand to)."""
        if self._vectors is None or self._vectors[0] is not vectors:
            self._vectors = (vectors, vectors.restricted(self.frequencies))
        return self._vectors[1]

    def pinyin(self) -> PinyinLexicon:
        if self._pinyin is None:
            self._pinyin = PinyinLexicon(self.titles)
        return self._pinyin

    def homophones(self) -> tuple[Homophones, dict[str, int]]:
        if self._homophones is None:
            repair = Homophones()
            for word, frequency in self.frequencies.items():
                repair.add([word], weight=frequency)
            self._homophones = repair
        return self._homophones, self.frequencies

    def containing(self, char: str, limit: int = 8) -> list[str]:
        """The most frequent indexed words that contain ``char``."""
        found = [w for w in self.frequencies if char in w and len(w) > 1]
        return sorted(found, key=lambda w: -self.frequencies[w])[:limit]


class Reader(ABC):
    """One consistent view of an index, as the shared ranker reads it."""

    @abstractmethod
    def doc_count(self) -> int:
        """Documents the term statistics count (Whoosh: including replaced ones not yet merged away)."""

    @abstractmethod
    def group_frequencies(self, tokens: Iterable[str]) -> dict[str, dict[str, int]]:
        """token → group → how many documents contain it there (0 or missing when none)."""

    @abstractmethod
    def match(self, query: MatchQuery) -> list[Candidate]:
        """The candidates of ``query``: with terms the best ``limit`` by score, else all that match."""

    @abstractmethod
    def vocabulary(self) -> Vocabulary:
        """The vocabulary of this index version."""

    @abstractmethod
    def keys_for_title(self, title: str) -> list[str]:
        """Keys of the documents whose title is exactly ``title`` (normalised)."""


__all__ = ["Candidate", "MatchQuery", "Reader", "TermClause", "Vocabulary", "facet_values", "stored_data"]

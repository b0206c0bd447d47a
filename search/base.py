"""The backend interface every search engine implements, and the value types it speaks."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field


class UnknownOption(TypeError):
    """A backend was given an option it does not know (a typo must not be silently ignored)."""


class IndexBusy(RuntimeError):
    """The index writer lock was not free in time; the change stays queued and is applied later."""


@dataclass(frozen=True)
class FieldSpec:
    """A text field of the documents: how much a match in it counts, and how the engine treats it.

    ``exact``: a query equal to the whole value puts the document first (codes, names).
    ``highlight``: matched terms are marked in this field of each hit.
    ``dictionary``: each whitespace-separated item of the value is a word the segmenter must know.
    ``title``: the field whose values feed suggestions, pinyin and typo repair (one per schema).
    ``group``: fields sharing a group are indexed together (fewer fields make queries faster).
    """

    name: str
    boost: float = 1.0
    exact: bool = False
    highlight: bool = False
    dictionary: bool = False
    title: bool = False
    group: str = ""

    @property
    def index_name(self) -> str:
        return self.group or self.name


@dataclass(frozen=True)
class Document:
    """One searchable item.

    ``text`` holds the analysed fields (name, keywords, definition…), ``facets`` exact values to
    filter and count by (department, level1…), ``rank`` a static multiplier (e.g. retired items
    lower), ``fingerprint`` a digest of the content so drift between index and source is detectable,
    ``meaning`` the packed sentence vector of the document (search/meaning.py; empty: none).
    """

    key: str
    text: Mapping[str, str]
    facets: Mapping[str, str] = field(default_factory=dict)
    rank: float = 1.0
    fingerprint: str = ""
    meaning: str = ""


@dataclass(frozen=True)
class SearchQuery:
    """What to look for. ``filters`` restrict by facet value (a value may be a tuple: any of them);
    ``boosts`` multiply scores of documents by facet value; ``exclude`` drops keys (e.g. the item itself)."""

    text: str
    filters: Mapping[str, str] = field(default_factory=dict)
    facets: tuple[str, ...] = ()
    limit: int = 20
    offset: int = 0
    boosts: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # facet → value → factor
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reason:
    """Why a hit matched: ``term`` was found in it; it entered the query as ``kind`` (输入词, 同义词, 纠错,
    拼音, 字面相近 …) from the typed word ``source``."""

    term: str
    kind: str
    source: str


@dataclass(frozen=True)
class Hit:
    key: str
    score: float
    highlights: Mapping[str, str] = field(default_factory=dict)
    reasons: tuple[Reason, ...] = ()


@dataclass
class SearchResults:
    total: int = 0
    hits: list[Hit] = field(default_factory=list)
    facet_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    suggestion: str | None = None


class BaseBackend(ABC):
    """A search engine. Writers are serialised by the backend; readers never block.

    ``meaning``: the sentence model (search/meaning.py) whose vectors the documents should carry, or None.
    """

    meaning = None

    def __init__(self, fields: Iterable[FieldSpec] = (), **options) -> None:
        # Options are checked, never swallowed: a misspelt one (feedback_facet for feedback_facets) would
        # otherwise silently change ranking.
        if options:
            raise UnknownOption(f"{type(self).__name__} 不认识检索选项：{', '.join(sorted(options))}。")
        self.fields = tuple(fields)

    @abstractmethod
    def rebuild(self, documents: Iterable[Document]) -> int:
        """Build a fresh index from ``documents`` and swap it in atomically; return the count."""

    @abstractmethod
    def upsert(self, documents: Iterable[Document]) -> None:
        """Add or replace documents by key."""

    @abstractmethod
    def delete(self, keys: Iterable[str]) -> None:
        """Remove documents by key (missing keys are ignored)."""

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResults:
        """Ranked hits for ``query``, best first."""

    @abstractmethod
    def fingerprints(self) -> dict[str, str]:
        """Every indexed key with its fingerprint, to compare with the source of truth."""

    def suggest(self, prefix: str, limit: int = 8) -> list[str]:
        """Keys of documents whose title starts with (or is spelled in pinyin by) ``prefix``."""
        return []

    def count(self) -> int:
        """How many documents the index holds."""
        return len(self.fingerprints())

    def is_ready(self) -> bool:
        """False when the index is missing or cannot be opened (then it must be rebuilt)."""
        return True

    def version(self) -> object | None:
        """A value that changes whenever the searchable content changes (any process's write), for
        callers' caches; None when unknown (then nothing may be cached)."""
        return None

    @contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[bool]:
        """Hold the single-writer lock (re-entrant); yields False when it was not free within ``timeout``."""
        yield True

    def close(self) -> None:
        """Release files and handles."""

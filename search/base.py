"""The backend interface every search engine implements, and the value types it speaks."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldSpec:
    """A text field of the documents: how much a match in it counts."""

    name: str
    boost: float = 1.0


@dataclass(frozen=True)
class Document:
    """One searchable item.

    ``text`` holds the analysed fields (name, keywords, definition…), ``facets`` exact values to
    filter and count by (department, level1…), ``rank`` a static multiplier (e.g. retired items
    lower), ``fingerprint`` a digest of the content so drift between index and source is detectable.
    """

    key: str
    text: Mapping[str, str]
    facets: Mapping[str, str] = field(default_factory=dict)
    rank: float = 1.0
    fingerprint: str = ""


@dataclass(frozen=True)
class SearchQuery:
    text: str
    filters: Mapping[str, str] = field(default_factory=dict)
    facets: tuple[str, ...] = ()
    limit: int = 20
    offset: int = 0
    boosts: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # facet → value → factor


@dataclass(frozen=True)
class Hit:
    key: str
    score: float
    highlights: Mapping[str, str] = field(default_factory=dict)


@dataclass
class SearchResults:
    total: int = 0
    hits: list[Hit] = field(default_factory=list)
    facet_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    suggestion: str | None = None


class BaseBackend(ABC):
    """A search engine. Writers are serialised by the backend; readers never block."""

    def __init__(self, fields: Iterable[FieldSpec] = (), **options) -> None:
        self.fields = tuple(fields)
        self.options = options

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

    def close(self) -> None:
        """Release files and handles."""

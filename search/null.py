"""A backend that indexes nothing and finds nothing: for tests and installations without search."""
from __future__ import annotations

from collections.abc import Iterable

from search.base import BaseBackend, Document, FieldSpec, SearchQuery, SearchResults
from search.engine import RANKING_OPTIONS


class NullBackend(BaseBackend):
    def __init__(self, fields: Iterable[FieldSpec] = (), **options) -> None:
        # The ranking options of the real engines are accepted (one configuration for any backend) and
        # have no effect here; anything else is still an error.
        super().__init__(fields, **{k: v for k, v in options.items() if k not in RANKING_OPTIONS})

    def rebuild(self, documents: Iterable[Document]) -> int:
        return sum(1 for _ in documents)

    def upsert(self, documents: Iterable[Document]) -> None:
        for _ in documents:
            pass

    def delete(self, keys: Iterable[str]) -> None:
        return None

    def search(self, query: SearchQuery) -> SearchResults:
        return SearchResults()

    def fingerprints(self) -> dict[str, str]:
        return {}

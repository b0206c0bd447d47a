"""A backend that indexes nothing and finds nothing: for tests and installations without search."""
from __future__ import annotations

from collections.abc import Iterable

from search.base import BaseBackend, Document, SearchQuery, SearchResults


class NullBackend(BaseBackend):
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

"""A tiny in-memory search backend for view tests: every query term must occur; facets count the hits.

The real engine (search/whoosh_backend.py) has its own tests; the web tests only need something
predictable that finds, highlights, counts facets and suggests.
"""
from __future__ import annotations

import html
from collections.abc import Iterable

from search.base import BaseBackend, Document, Hit, SearchQuery, SearchResults


class MemoryBackend(BaseBackend):
    def __init__(self, fields=(), **options) -> None:
        super().__init__(fields, **options)
        self.documents: dict[str, Document] = {}

    def rebuild(self, documents: Iterable[Document]) -> int:
        self.documents = {document.key: document for document in documents}
        return len(self.documents)

    def upsert(self, documents: Iterable[Document]) -> None:
        for document in documents:
            self.documents[document.key] = document

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.documents.pop(key, None)

    def fingerprints(self) -> dict[str, str]:
        return {key: document.fingerprint for key, document in self.documents.items()}

    def suggest(self, prefix: str, limit: int = 8) -> list[str]:
        found = sorted((d for d in self.documents.values() if prefix in d.text.get("name", "")),
                       key=lambda d: (not d.text.get("name", "").startswith(prefix), len(d.text.get("name", "")), d.key))
        return [d.key for d in found[:limit]]

    def _score(self, document: Document, terms: list[str]) -> float:
        boosts = {spec.name: spec.boost for spec in self.fields}
        score = 0.0
        for term in terms:
            found = [boosts.get(name, 1.0) for name, text in document.text.items() if term in (text or "")]
            if not found:
                return 0.0
            score += sum(found)
        return score * document.rank

    def search(self, query: SearchQuery) -> SearchResults:
        terms = query.text.split()
        matched = []
        excluded = set(getattr(query, "exclude", ()) or ())
        for document in self.documents.values():
            if document.key in excluded or any(
                document.facets.get(key) not in (value if isinstance(value, tuple) else (value,))
                for key, value in query.filters.items()
            ):
                continue
            score = self._score(document, terms) if terms else document.rank
            for facet, factors in (query.boosts or {}).items():
                score *= factors.get(document.facets.get(facet, ""), 1.0)
            if score > 0:
                matched.append((score, document))
        matched.sort(key=lambda pair: (-pair[0], pair[1].key))
        counts: dict[str, dict[str, int]] = {}
        for _, document in matched:
            for facet in query.facets:
                value = document.facets.get(facet, "")
                counts.setdefault(facet, {})
                counts[facet][value] = counts[facet].get(value, 0) + 1
        hits = [Hit(document.key, score, self._highlights(document, terms))
                for score, document in matched[query.offset:query.offset + query.limit]]
        suggestion = None
        if not matched and query.text:
            suggestion = next((d.text["name"] for d in self.documents.values()
                               if query.text[:2] and query.text[:2] in d.text.get("name", "")), None)
        return SearchResults(total=len(matched), hits=hits, facet_counts=counts, suggestion=suggestion)

    @staticmethod
    def _highlights(document: Document, terms: list[str]) -> dict[str, str]:
        out = {}
        for field in ("name", "definition"):
            text = html.escape(document.text.get(field, "") or "")
            if any(term in text for term in terms):
                for term in terms:
                    text = text.replace(html.escape(term), f"<mark>{html.escape(term)}</mark>")
                out[field] = text
        return out

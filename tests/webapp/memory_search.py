"""An in-memory search engine for the web tests: no files, no locks, rebuilt in milliseconds.

It is a real engine, not a stand-in: it stores documents with our analyzer and compiles the neutral
:class:`search.reader.MatchQuery` to set lookups, so it ranks through the shared ranker like Whoosh and
PostgreSQL, and runs the search contract suite (tests/search/test_contract.py) with them.
"""
from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable

from search.analysis import normalize
from search.base import Document, FieldSpec
from search.engine import RankedBackend
from search.reader import Candidate, MatchQuery, Reader, Vocabulary, stored_data

K1 = 1.2


class _Stored:
    __slots__ = ("data", "groups", "exact", "facets")

    def __init__(self, data: dict, groups: dict[str, Counter], exact: dict[str, str], facets: dict[str, str]) -> None:
        self.data, self.groups, self.exact, self.facets = data, groups, exact, facets


class MemoryBackend(RankedBackend):
    def __init__(self, fields: Iterable[FieldSpec] = (), **options) -> None:
        super().__init__(fields, **options)
        self.documents: dict[str, _Stored] = {}
        self._ready = False
        self._write_lock = threading.RLock()
        self._version = 0
        self._vocab: tuple[int, Vocabulary] | None = None

    def _store(self, document: Document) -> _Stored:
        groups: dict[str, Counter] = {}
        all_tokens: list[str] = []
        title_tokens: tuple[str, ...] = ()
        highlights, exact, words = {}, {}, set()
        for spec in self.fields:
            value = document.text.get(spec.name, "") or ""
            tokens = self.analyzer.tokens(value) if value else ()
            groups.setdefault(spec.index_name, Counter()).update(tokens)
            all_tokens.extend(tokens)
            if spec.title:
                title_tokens = tokens
            if spec.highlight:
                highlights[spec.name] = value
            if spec.exact and value:
                exact[spec.name] = normalize(value)
        data = stored_data(document.fingerprint, document.rank, document.facets, highlights, title_tokens, all_tokens)
        return _Stored(data, groups, exact, {k: str(v) for k, v in document.facets.items() if v})

    def _words(self, documents: list[Document]) -> None:
        self.analyzer.add_words({w for d in documents for spec in self.fields if spec.dictionary
                                 for w in (d.text.get(spec.name) or "").split() if len(w) >= 2})

    def rebuild(self, documents: Iterable[Document]) -> int:
        documents = list(documents)
        with self._write_lock:
            self._words(documents)
            self.documents = {d.key: self._store(d) for d in documents}
            self._ready = True
            self._version += 1
        return len(documents)

    def upsert(self, documents: Iterable[Document]) -> None:
        documents = list(documents)
        with self._write_lock:
            self._words(documents)
            self.documents = {**self.documents, **{d.key: self._store(d) for d in documents}}
            self._ready = True
            self._version += 1

    def delete(self, keys: Iterable[str]) -> None:
        keys = set(keys)
        with self._write_lock:
            self.documents = {k: v for k, v in self.documents.items() if k not in keys}
            self._version += 1

    def fingerprints(self) -> dict[str, str]:
        return {key: stored.data["fp"] for key, stored in self.documents.items()}

    def is_ready(self) -> bool:
        return self._ready

    def _reader(self) -> MemoryReader | None:
        return MemoryReader(self) if self._ready else None

    def _vocabulary(self, reader: MemoryReader) -> Vocabulary:
        if self._vocab is None or self._vocab[0] != reader.version:
            title = self._title
            titles = sorted({s.exact[title] for s in reader.documents.values() if title in s.exact}) if title else []
            frequencies: Counter = Counter()
            for group in self._groups:
                counts = Counter(t for s in reader.documents.values() for t in s.groups.get(group, ()))
                for token, n in counts.items():
                    frequencies[token] = max(frequencies[token], n)
            self._vocab = (reader.version, Vocabulary(titles, dict(frequencies)))
        return self._vocab[1]


class MemoryReader(Reader):
    """A snapshot of the documents (writers replace the dictionary, never change it in place)."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend
        self.documents = backend.documents
        self.version = backend._version

    def doc_count(self) -> int:
        return len(self.documents)

    def group_frequencies(self, tokens: Iterable[str]) -> dict[str, dict[str, int]]:
        return {token: {group: sum(1 for s in self.documents.values() if token in s.groups.get(group, ()))
                        for group in self.backend._groups} for token in dict.fromkeys(tokens)}

    def _allowed(self, query: MatchQuery, stored: _Stored, key: str) -> bool:
        return key not in query.exclude and all(stored.facets.get(name) in values for name, values in query.filters)

    def match(self, query: MatchQuery) -> list[Candidate]:
        found: list[tuple[float, str]] = []
        if query.terms:
            total = max(len(self.documents), 1)
            frequencies = self.group_frequencies({c.token for c in query.terms})
            for key, stored in self.documents.items():
                score = 0.0
                for clause in query.terms:
                    tf = stored.groups.get(clause.group, {}).get(clause.token, 0)
                    if tf:
                        idf = math.log(1 + total / max(frequencies[clause.token][clause.group], 1))
                        score += clause.weight * idf * tf * (K1 + 1) / (tf + K1)
                if score > 0 and self._allowed(query, stored, key):
                    found.append((score, key))
            found.sort(key=lambda item: (-item[0], item[1]))
        else:
            for key, stored in self.documents.items():
                if query.exact and not any(stored.exact.get(name) == value for name, value in query.exact):
                    continue
                if self._allowed(query, stored, key):
                    found.append((1.0, key))
        return [Candidate.from_stored(key, score, self.documents[key].data) for score, key in found[:query.limit]]

    def vocabulary(self) -> Vocabulary:
        return self.backend._vocabulary(self)

    def keys_for_title(self, title: str) -> list[str]:
        name = self.backend._title
        return [key for key, stored in self.documents.items() if stored.exact.get(name) == title]

"""Small caches valid for one version of a search index and its ranking settings (issue 15: requests that
do less).

What a search reads besides the index (the department vocabulary, the analysis of a query text)
changes only when the library changes, and every change of an indicator or a department is
re-indexed (:mod:`kb.indexing`). So :meth:`search.base.BaseBackend.version` moving on — it sees
other processes' writes too — is when such values may be stale: the whole cache is then dropped.
A backend that reports no version (None) gets no caching: every call computes afresh.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from search.base import BaseBackend, SearchQuery, SearchResults

T = TypeVar("T")
DEFAULT_SIZE = 512
# Analysed queries and the backend's answers to them, per backend: most searches repeat a few hundred texts.
QUERY_CACHE_SIZE = 1024


class VersionedCache:
    """Named values and a bounded LRU memo, all dropped when the version changes. Thread-safe; two
    threads may compute the same value at once (both results are equal; one is kept). Values are
    shared between requests: callers must not change them."""

    _instances: weakref.WeakKeyDictionary[Any, VersionedCache] = weakref.WeakKeyDictionary()
    _instances_lock = threading.Lock()

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._version: object | None = None
        self._values: dict[str, Any] = {}
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()

    @classmethod
    def of(cls, owner: Any, size: int = DEFAULT_SIZE) -> VersionedCache:
        """The cache belonging to ``owner`` (e.g. a search backend: one per app and database)."""
        with cls._instances_lock:
            cache = cls._instances.get(owner)
            if cache is None:
                cache = cls._instances[owner] = cls(size)
            return cache

    def _check(self, version: object) -> None:
        """Drop everything when ``version`` differs from the cached one (the caller holds the lock)."""
        if version != self._version:
            self._version = version
            self._values.clear()
            self._memo.clear()

    def value(self, version: object | None, name: str, compute: Callable[[], T]) -> T:
        """The value ``name`` for ``version``, computed once per version."""
        if version is None:
            return compute()
        with self._lock:
            self._check(version)
            if name in self._values:
                return self._values[name]
        result = compute()
        with self._lock:
            if self._version == version:
                self._values[name] = result
        return result

    def memo(self, version: object | None, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` remembered under ``key`` for ``version``; the least recently used go first."""
        if version is None:
            return compute()
        with self._lock:
            self._check(version)
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        result = compute()
        with self._lock:
            if self._version == version:
                self._memo[key] = result
                while len(self._memo) > self.size:
                    self._memo.popitem(last=False)
        return result

    def __len__(self) -> int:
        with self._lock:
            return len(self._values) + len(self._memo)


def query_cache(backend: BaseBackend) -> VersionedCache:
    """The cache of ``backend``'s analysed queries and answers (kb.searching)."""
    return VersionedCache.of(backend, size=QUERY_CACHE_SIZE)


def cache_version(backend: BaseBackend) -> object | None:
    """What cached answers are valid for: the index version and the ranking settings, which finance's live
    synonym edits (kb/live_synonyms.py) swap without writing to the index. None: nothing is cached."""
    version = backend.version()
    return None if version is None else (version, getattr(backend, "settings", None))


def cached_search(backend: BaseBackend, query: SearchQuery) -> SearchResults:
    """``backend.search(query)``, remembered for the index version (like Solr's query result cache, which a
    new searcher empties): the same index answers the same query the same way, and what a hit shows
    besides its key, score and highlights is read from the database afterwards. Shared: do not change it."""
    return query_cache(backend).memo(cache_version(backend), ("search", repr(query)), lambda: backend.search(query))

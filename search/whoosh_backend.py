"""The Whoosh backend: our analyzer, shaped queries, re-ranking, facets, highlights, one writer at a time.

Layout of ``index_dir``: ``CURRENT`` names the live generation directory (``gen-…``); a rebuild
writes a fresh generation and swaps ``CURRENT`` atomically (``os.replace``), so searches keep
working on the old one meanwhile and a crash mid-build leaves the old index intact. ``WRITER.lock``
serialises writers across processes (search/locking.py).
"""
from __future__ import annotations

import gc
import logging
import os
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.query import And, Every, Or, Term

from search.analysis import normalize
from search.base import Document, FieldSpec, IndexBusy
from search.engine import RankedBackend
from search.locking import InterProcessLock
from search.reader import Candidate, MatchQuery, Reader, Vocabulary, stored_data
from search.whoosh_build import collect, default_procs, write_index
from search.whoosh_documents import DOCUMENT_CACHE, StoredDocuments
from search.whoosh_scoring import best_documents
from search.whoosh_stats import live_searcher, live_vocabulary

log = logging.getLogger(__name__)
POINTER = "CURRENT"
WORDS = "words.txt"


class WhooshBackend(RankedBackend):
    """Whoosh index in ``index_dir`` (see the module docstring).

    Options: those of :class:`search.engine.RankedBackend` (``postings_budget`` defaults to 6000 here:
    Whoosh's cost is per posting walked), ``write_timeout`` (seconds to wait for the writer lock),
    ``build_procs`` (processes for large rebuilds; default one per core, at most 4), ``document_cache`` (decoded
    documents kept per process: search/whoosh_documents.py).
    """

    def __init__(self, fields: Iterable[FieldSpec] = (), index_dir: str | os.PathLike | None = None,
                 write_timeout: float = 30.0, build_procs: int | None = None, *, candidates: int = 100,
                 postings_budget: int | None = 6000, document_cache: int = DOCUMENT_CACHE, **options) -> None:
        super().__init__(fields, candidates=candidates, postings_budget=postings_budget, **options)
        if index_dir is None:
            raise ValueError("WhooshBackend needs index_dir")
        self.index_dir = Path(index_dir)
        self.build_procs = build_procs or default_procs()
        self.write_timeout = write_timeout
        self._lock = InterProcessLock(self.index_dir / "WRITER.lock")
        self._local = threading.local()
        self._vocab: tuple[object, Vocabulary] | None = None  # per generation+version: lexicons built lazily
        self._words_seen: dict[str, int] = {}
        self._documents = StoredDocuments(document_cache)

    # ---- layout -------------------------------------------------------------------------------
    def _schema(self) -> Schema:
        schema = Schema(key=ID(stored=True, unique=True), data=STORED())
        for group in self._groups:
            schema.add(f"t_{group}", TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=False))
        for spec in self.fields:
            if spec.exact:
                schema.add(f"x_{spec.name}", ID())
        schema.add("f_*", ID(), glob=True)
        return schema

    def _generation(self) -> str | None:
        try:
            return (self.index_dir / POINTER).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _open(self):
        generation = self._generation()
        if generation is None:
            return None, None
        return generation, _open_dir(self.index_dir / generation)

    def is_ready(self) -> bool:
        try:
            generation, ix = self._open()
        except Exception:  # a crash mid-commit can leave an unreadable index; it must be rebuilt
            log.exception("检索索引无法打开")
            return False
        if ix is None:
            return False
        ix.close()
        return True

    @contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[bool]:
        held = self._lock.acquire(timeout)
        try:
            yield held
        finally:
            if held:
                self._lock.release()

    # ---- documents ----------------------------------------------------------------------------
    def _fields_of(self, document: Document) -> dict:
        grouped: dict[str, list[str]] = {}
        all_tokens: list[str] = []
        title_tokens: tuple[str, ...] = ()
        highlights = {}
        for spec in self.fields:
            value = document.text.get(spec.name, "") or ""
            tokens = self.analyzer.tokens(value) if value else ()
            grouped.setdefault(spec.index_name, []).extend(tokens)
            all_tokens.extend(tokens)
            if spec.title:
                title_tokens = tokens
            if spec.highlight:
                highlights[spec.name] = value
        fields = {
            "key": document.key,
            "data": stored_data(document.fingerprint, document.rank, document.facets, highlights, title_tokens,
                                all_tokens, document.meaning),
        }
        for group, tokens in grouped.items():
            fields[f"t_{group}"] = " ".join(tokens)
        for spec in self.fields:
            if spec.exact and document.text.get(spec.name):
                fields[f"x_{spec.name}"] = normalize(document.text[spec.name])
        for name, value in document.facets.items():
            if value:
                fields[f"f_{name}"] = str(value)
        return fields

    def _dictionary_words(self, document: Document) -> set[str]:
        words = set()
        for spec in self.fields:
            if spec.dictionary:
                words.update(w for w in (document.text.get(spec.name) or "").split() if len(w) >= 2)
        return words

    def rebuild(self, documents: Iterable[Document], progress: Callable[[int], None] | None = None) -> int:
        """Build a fresh generation from ``documents`` (read once, never held in memory) in parallel
        processes (search/whoosh_build.py) and swap it in; ``progress`` gets the documents written."""
        with self.lock(timeout=None):
            generation = f"gen-{time.time_ns()}-{os.getpid()}"
            path = self.index_dir / generation
            path.mkdir(parents=True)
            try:
                source, words = collect(documents, path, self._dictionary_words)  # a crash leaves it in path
                try:
                    self.analyzer.add_words(words)
                    self.analyzer.warm_up()  # before forking: workers inherit the loaded dictionary
                    ix = whoosh_index.create_in(str(path), self._schema())
                    write_index(ix, source, self._fields_of, self.build_procs, progress)
                    ix.close()
                    count = len(source)
                finally:
                    source.close()
                (path / WORDS).write_text("\n".join(sorted(words)), encoding="utf-8")
            except BaseException:  # e.g. disk full: the new generation is abandoned, the live one untouched
                shutil.rmtree(path, ignore_errors=True)
                raise
            pointer = self.index_dir / f"{POINTER}.tmp"
            pointer.write_text(generation, encoding="utf-8")
            os.replace(pointer, self.index_dir / POINTER)
            self._remove_old_generations(keep=generation)
        return count

    def _remove_old_generations(self, keep: str) -> None:
        for old in self.index_dir.glob("gen-*"):
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)  # open readers elsewhere keep their files (POSIX)

    def _write(self, change) -> None:
        with self.lock(timeout=self.write_timeout) as held:
            if not held:
                raise IndexBusy("检索索引正被其他进程写入，请稍后再试。")
            generation, ix = self._open()
            if ix is None:
                self.rebuild(())
                generation, ix = self._open()
            writer = ix.writer(timeout=5.0)  # our lock is held, so Whoosh's is free
            try:
                words = change(writer)
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            ix.close()
            if words:
                with open(self.index_dir / generation / WORDS, "a", encoding="utf-8") as stream:
                    stream.write("\n" + "\n".join(sorted(words)))

    def upsert(self, documents: Iterable[Document]) -> None:
        documents = list(documents)
        if not documents:
            return

        def change(writer):
            words = set()
            for document in documents:
                words |= self._dictionary_words(document)
            self.analyzer.add_words(words)
            for document in documents:
                writer.update_document(**self._fields_of(document))
            return words

        self._write(change)

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            self._write(lambda writer: [writer.delete_by_term("key", key) for key in keys] and set())

    # ---- reading ------------------------------------------------------------------------------
    def _searcher(self):
        """This thread's searcher, reopened when another process swapped or changed the index."""
        generation = self._generation()
        current = getattr(self._local, "searcher", None)
        if current is not None and self._local.generation == generation and current.up_to_date():
            return current
        # Reopen rather than Searcher.refresh(): refresh reuses segment readers and misses deletions.
        if current is not None:
            current.close()
            self._local.searcher = None
        if generation is None:
            return None
        try:
            ix = _open_dir(self.index_dir / generation)
        except Exception:
            log.exception("检索索引无法打开，需要重建（kb index rebuild）")
            return None
        self._load_words(generation)
        self._local.searcher = live_searcher(ix)
        self._local.generation = generation
        return self._local.searcher

    def _load_words(self, generation: str) -> None:
        path = self.index_dir / generation / WORDS
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if self._words_seen.get(generation) != size:
            self.analyzer.add_words(path.read_text(encoding="utf-8").split("\n"))
            self._words_seen = {generation: size}

    def version(self) -> object | None:
        searcher = self._searcher()  # reopened when another process committed: its TOC generation moved on
        return None if searcher is None else (self._local.generation, searcher.reader().generation())

    def count(self) -> int:
        searcher = self._searcher()
        return searcher.doc_count() if searcher else 0

    def fingerprints(self) -> dict[str, str]:
        searcher = self._searcher()
        if searcher is None:
            return {}
        return {fields["key"]: fields["data"]["fp"] for fields in searcher.all_stored_fields()}

    def _vocabulary(self, searcher) -> Vocabulary:
        """Title phrases and word frequencies of the live documents, per index version."""
        version = (self._local.generation, searcher.ixreader.generation() if hasattr(searcher.ixreader, "generation") else 0,
                   searcher.doc_count_all())
        if self._vocab is None or self._vocab[0] != version:
            titles, frequencies = live_vocabulary(searcher, self._groups, self._title)
            self._vocab = (version, Vocabulary(titles, frequencies))
        return self._vocab[1]

    def _reader(self) -> WhooshReader | None:
        searcher = self._searcher()
        return WhooshReader(self, searcher) if searcher is not None else None

    def close(self) -> None:
        searcher = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
            self._local.searcher = None
        self._documents.clear()


def _remember_missing_length_columns() -> None:
    """Whoosh looks for the field-length column of every posting while committing and, for ID fields
    (which have none), asks the file system each time; remember the answer per segment reader."""
    from whoosh.codec import whoosh3

    original = whoosh3.W3PerDocReader._cached_reader
    if getattr(original, "remembers_missing", False):
        return

    def cached_reader(self, fieldname, column):
        reader = self._readers.get(fieldname)
        if reader is not None:  # the common case, as fast as the original
            return reader
        missing = self.__dict__.setdefault("_missing_columns", set())
        if fieldname in missing:
            return None
        reader = original(self, fieldname, column)
        if reader is None:
            missing.add(fieldname)
        return reader

    cached_reader.remembers_missing = True
    whoosh3.W3PerDocReader._cached_reader = cached_reader


_remember_missing_length_columns()


class WhooshReader(Reader):
    """Compiles :class:`MatchQuery` to Whoosh queries and matchers on one searcher."""

    def __init__(self, backend: WhooshBackend, searcher) -> None:
        self.backend, self.searcher = backend, searcher

    def doc_count(self) -> int:
        return self.searcher.doc_count()  # live documents (search/whoosh_stats.py)

    def group_frequencies(self, tokens: Iterable[str]) -> dict[str, dict[str, int]]:
        live = self.searcher.live_statistics  # remembers each frequency for this index version
        frequency = live.doc_frequency if live is not None else self.searcher.doc_frequency
        return {token: {group: frequency(f"t_{group}", token) for group in self.backend._groups}
                for token in dict.fromkeys(tokens)}

    def _restriction(self, query: MatchQuery):
        parts = [Or([Term(f"f_{name}", v) for v in values]) if len(values) > 1 else Term(f"f_{name}", values[0])
                 for name, values in query.filters]
        return And(parts) if parts else None

    def _candidate(self, docnum: int, score: float) -> Candidate:
        return self.backend._documents.candidate(self.searcher, docnum, score)

    def match(self, query: MatchQuery) -> list[Candidate]:
        searcher = self.searcher
        restrict = self._restriction(query)
        banned = set(searcher.docs_for_query(Or([Term("key", k) for k in query.exclude]))) if query.exclude else set()
        if not query.terms:
            base = Or([Term(f"x_{name}", value) for name, value in query.exact]) if query.exact else Every()
            found = searcher.docs_for_query(And([base, restrict]) if restrict is not None else base)
            docnums = [d for d in found if d not in banned][:query.limit]
            return [self._candidate(docnum, 1.0) for docnum in docnums]
        # Each posting list is scored a block at a time (search/whoosh_scoring.py): Whoosh's own OR builds a tree
        # of union matchers whose per-posting, per-level Python calls cost 3–10× more (search-performance.md).
        allowed = set(searcher.docs_for_query(restrict)) if restrict is not None else None
        # A single very common word (满意度 in 20 % of a province's library) would walk every posting:
        # stop each list at the budget; its documents are alike and the re-ranker orders them.
        cap = self.backend.postings_budget or float("inf")
        clauses = [(clause.token, f"t_{clause.group}", clause.weight) for clause in query.terms]
        best = best_documents(searcher, clauses, cap, query.limit, allowed, banned)
        return [self._candidate(docnum, score) for docnum, score in best]

    def vocabulary(self) -> Vocabulary:
        return self.backend._vocabulary(self.searcher)

    def keys_for_title(self, title: str) -> list[str]:
        return [self.searcher.stored_fields(d)["key"]
                for d in self.searcher.docs_for_query(Term(f"x_{self.backend._title}", title))]


class DamagedIndex(RuntimeError):
    """The index directory cannot be opened (e.g. a crash mid-commit); it must be rebuilt."""


def _open_dir(path: Path):
    """Open an index; a damaged one raises (Whoosh then leaks the file it was reading: collect it quietly)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            return whoosh_index.open_dir(str(path))
        except Exception as error:
            failure = DamagedIndex(f"检索索引无法打开（{path}）：{error.__class__.__name__}: {error}")
        gc.collect()  # the traceback is gone: the leaked file is freed here, its warning silenced
    raise failure


__all__ = ["DamagedIndex", "WhooshBackend", "WhooshReader"]

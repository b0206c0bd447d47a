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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.query import Term

from search.analysis import Analyzer, Homophones, PinyinLexicon, Synonyms, normalize
from search.base import BaseBackend, Document, FieldSpec, IndexBusy, SearchQuery, SearchResults
from search.locking import InterProcessLock
from search.ranking import Ranker, facet_filter
from search.suggest import suggest_titles

log = logging.getLogger(__name__)
POINTER = "CURRENT"
WORDS = "words.txt"
PARALLEL_BUILD_FROM = 20_000


class WhooshBackend(BaseBackend):
    """Whoosh index in ``index_dir`` (see the module docstring).

    Options: ``user_words`` (extra dictionary words), ``synonyms`` (groups of equivalent terms),
    ``candidates`` (how many hits are re-ranked), ``write_timeout`` (seconds to wait for the writer lock),
    ``feedback_facets`` (facet → factor: the dominant value among the best hits of a long query is boosted),
    ``postings_budget`` (about how many postings one query may walk; bounds the latency of long queries).
    """

    def __init__(self, fields: Iterable[FieldSpec] = (), index_dir: str | os.PathLike | None = None,
                 user_words: Iterable[str] = (), synonyms: Iterable[Iterable[str]] = (),
                 candidates: int = 100, write_timeout: float = 30.0, feedback_facets: dict[str, float] | None = None,
                 postings_budget: int | None = 6000, build_procs: int = 1, **options) -> None:
        super().__init__(fields, **options)
        if index_dir is None:
            raise ValueError("WhooshBackend needs index_dir")
        self.index_dir = Path(index_dir)
        self.analyzer = Analyzer(user_words)
        self.synonyms = Synonyms(synonyms)
        self.candidates = candidates
        self.feedback_facets = dict(feedback_facets or {})
        self.postings_budget = postings_budget
        self.build_procs = build_procs
        self.write_timeout = write_timeout
        self._lock = InterProcessLock(self.index_dir / "WRITER.lock")
        self._groups: dict[str, float] = {}
        for spec in self.fields:
            self._groups[spec.index_name] = max(self._groups.get(spec.index_name, 0.0), spec.boost)
        self._title = next((f.name for f in self.fields if f.title), None)
        self._local = threading.local()
        self._vocab: dict[str, object] = {}  # per generation+version: lexicons built lazily
        self._words_seen: dict[str, int] = {}

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
            "data": {
                "fp": document.fingerprint, "rank": document.rank, "facets": dict(document.facets),
                "hl": highlights, "tt": title_tokens, "ct": " ".join(dict.fromkeys(all_tokens)),
            },
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

    def rebuild(self, documents: Iterable[Document]) -> int:
        with self.lock(timeout=None):
            generation = f"gen-{time.time_ns()}-{os.getpid()}"
            path = self.index_dir / generation
            path.mkdir(parents=True)
            ix = whoosh_index.create_in(str(path), self._schema())
            documents = list(documents)
            words: set[str] = set()
            for document in documents:
                words |= self._dictionary_words(document)
            self.analyzer.add_words(words)
            writer = ix.writer(limitmb=256, **self._build_options(len(documents)))
            for document in documents:
                writer.add_document(**self._fields_of(document))
            writer.commit()
            ix.close()
            (path / WORDS).write_text("\n".join(sorted(words)), encoding="utf-8")
            pointer = self.index_dir / f"{POINTER}.tmp"
            pointer.write_text(generation, encoding="utf-8")
            os.replace(pointer, self.index_dir / POINTER)
            self._remove_old_generations(keep=generation)
        return len(documents)

    def _build_options(self, count: int) -> dict:
        """With ``build_procs`` > 1, large rebuilds index in several processes, one segment each."""
        if count >= PARALLEL_BUILD_FROM and (os.cpu_count() or 1) > 1 and self.build_procs > 1:
            return {"procs": self.build_procs, "multisegment": True}
        return {}

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
        self._local.searcher = ix.searcher()
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

    def count(self) -> int:
        searcher = self._searcher()
        return searcher.doc_count() if searcher else 0

    def fingerprints(self) -> dict[str, str]:
        searcher = self._searcher()
        if searcher is None:
            return {}
        return {fields["key"]: fields["data"]["fp"] for fields in searcher.all_stored_fields()}

    def _vocabulary(self, searcher):
        """Title phrases (pinyin, suggestions) and word frequencies (typo repair), per index version."""
        version = (self._local.generation, searcher.ixreader.generation() if hasattr(searcher.ixreader, "generation") else 0,
                   searcher.doc_count_all())
        cached = self._vocab.get("version") == version
        if not cached:
            titles = [t.decode("utf-8") if isinstance(t, bytes) else t
                      for t in searcher.lexicon(f"x_{self._title}")] if self._title else []
            frequencies: dict[str, int] = {}
            for group in self._groups:
                for term, info in searcher.reader().iter_field(f"t_{group}"):
                    word = term.decode("utf-8") if isinstance(term, bytes) else term
                    frequencies[word] = max(frequencies.get(word, 0), info.doc_frequency())
            self._vocab = {"version": version, "titles": titles, "frequencies": frequencies,
                           "pinyin": None, "homophones": None}
        return self._vocab

    def _pinyin(self, searcher) -> PinyinLexicon:
        vocab = self._vocabulary(searcher)
        if vocab["pinyin"] is None:
            vocab["pinyin"] = PinyinLexicon(vocab["titles"])
        return vocab["pinyin"]

    def _homophones(self, searcher):
        vocab = self._vocabulary(searcher)
        if vocab["homophones"] is None:
            repair = Homophones()
            for word, frequency in vocab["frequencies"].items():
                repair.add([word], weight=frequency)
            vocab["homophones"] = repair
        return vocab["homophones"], vocab["frequencies"]

    def _containing(self, searcher, char: str, limit: int = 8) -> list[str]:
        """The most frequent indexed words that contain ``char``."""
        frequencies = self._vocabulary(searcher)["frequencies"]
        found = [w for w in frequencies if char in w and len(w) > 1]
        return sorted(found, key=lambda w: -frequencies[w])[:limit]

    def search(self, query: SearchQuery) -> SearchResults:
        searcher = self._searcher()
        if searcher is None:
            return SearchResults()
        ranker = Ranker(self, searcher, query)
        return ranker.run()

    def suggest(self, prefix: str, limit: int = 8) -> list[str]:
        searcher = self._searcher()
        if searcher is None or not self._title:
            return []
        titles = suggest_titles(normalize(prefix), self._vocabulary(searcher)["titles"], self._pinyin(searcher), limit)
        keys: list[str] = []
        for title in titles:
            for docnum in searcher.docs_for_query(Term(f"x_{self._title}", title)):
                key = searcher.stored_fields(docnum)["key"]
                if key not in keys:
                    keys.append(key)
        return keys[:limit]

    def close(self) -> None:
        searcher = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
            self._local.searcher = None


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


__all__ = ["DamagedIndex", "WhooshBackend", "facet_filter"]

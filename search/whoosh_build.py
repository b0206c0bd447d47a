"""Full builds of a Whoosh index that use the machine (issue 15).

A rebuild reads its documents once: the dictionary words are collected while the documents are spooled
to a temporary file (the library is never held in memory), because every word must be known to the
segmenter before the first document is segmented. Then contiguous slices of the spool are segmented and
written by worker processes, each into its own segment of the new index, and the segments are listed
in slice order: document numbers, and with them the order of equal scores, are those of a serial build.

Workers are forked: they inherit the parent's analyzer with every user word already added, so their
tokens are exactly the parent's. Where fork does not exist (Windows, macOS' default), and when the
rebuild runs in a background thread (a web worker repairing a lost index), the build runs in the
calling process. Each writer spills its posting runs into its own folder inside the new index
directory: Whoosh's default temporary folder (``$TMPDIR/MAIN.tmp``) is shared by every index on the
machine and deleted by whichever writer finishes first.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import re
import tempfile
import threading
import traceback
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from whoosh.analysis import IDTokenizer, RegexTokenizer
from whoosh.fields import ID, TEXT
from whoosh.formats import Existence, Frequency
from whoosh.index import TOC, clean_files
from whoosh.system import pack_uint
from whoosh.writing import SegmentWriter

from search.base import Document

# Below this many documents one process is as fast: forking and a second segment cost more than they save.
PARALLEL_FROM = 4000
# How often a worker reports progress (documents).
REPORT_EVERY = 250


def default_procs() -> int:
    """Build processes when none are configured: one per core, at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class Spool:
    """Documents pickled to a temporary file in one pass and read back by slices (in any process)."""

    def __init__(self, directory: Path) -> None:
        handle, name = tempfile.mkstemp(prefix="spool-", suffix=".tmp", dir=directory)
        self.path = Path(name)
        self._out = os.fdopen(handle, "wb")
        self._offsets = array("q")

    def append(self, document: Document) -> None:
        self._offsets.append(self._out.tell())
        pickle.dump(document, self._out, protocol=pickle.HIGHEST_PROTOCOL)

    def finish(self) -> None:
        self._out.close()

    def __len__(self) -> int:
        return len(self._offsets)

    def read(self, start: int, end: int) -> Iterator[Document]:
        """Documents ``start`` to ``end`` (exclusive), through a file handle of their own."""
        if start >= end:
            return
        with open(self.path, "rb") as stream:
            stream.seek(self._offsets[start])
            for _ in range(end - start):
                yield pickle.load(stream)

    def close(self) -> None:
        if not self._out.closed:
            self._out.close()
        self.path.unlink(missing_ok=True)


class Listed:
    """A list of documents read by slices (a list needs no spool: it can be read twice)."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self.documents = documents

    def __len__(self) -> int:
        return len(self.documents)

    def read(self, start: int, end: int) -> Iterator[Document]:
        return iter(self.documents[start:end])

    def close(self) -> None:
        pass


def collect(documents: Iterable[Document], directory: Path,
            words_of: Callable[[Document], set[str]]) -> tuple[Spool | Listed, set[str]]:
    """One pass over ``documents``: their dictionary words, and a source to read them again by slices."""
    words: set[str] = set()
    if isinstance(documents, Sequence):
        for document in documents:
            words |= words_of(document)
        return Listed(documents), words
    spool = Spool(directory)
    try:
        for document in documents:
            words |= words_of(document)
            spool.append(document)
        spool.finish()
    except BaseException:
        spool.close()
        raise
    return spool, words


def slices(count: int, parts: int) -> list[tuple[int, int]]:
    """``count`` documents in ``parts`` contiguous, nearly equal slices (no empty ones)."""
    parts = max(1, min(parts, count))
    bounds = [count * k // parts for k in range(parts + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(parts) if bounds[k] < bounds[k + 1]]


def write_index(ix, source: Spool | Listed, fields_of: Callable[[Document], dict], procs: int = 1,
                progress: Callable[[int], None] | None = None) -> int:
    """Write every document of ``source`` into the new, empty index ``ix``; return the segment count.

    With ``procs`` > 1 (and enough documents, and fork available), ``procs`` forked workers write one
    segment each. ``progress`` is called in this process with the number of documents written since the
    last call.
    """
    count = len(source)
    # Fork only from a main thread (the CLI, start-up repair): a web worker repairing a lost index in a
    # background thread has other threads whose held locks a forked child would inherit.
    parallel = (procs > 1 and count >= PARALLEL_FROM and can_fork()
                and threading.current_thread() is threading.main_thread())
    parts = slices(count, procs if parallel else 1)
    if not parallel:
        segments = [_write_slice(ix, source, start, end, fields_of, progress) for start, end in parts]
    else:
        segments = _write_in_workers(ix, source, parts, fields_of, progress)
    segments = [segment for segment in segments if segment is not None]
    info = ix._read_toc()
    generation = info.generation + 1
    TOC(info.schema, segments, generation).write(ix.storage, ix.indexname)
    clean_files(ix.storage, ix.indexname, generation, segments)
    return len(segments)


class _Lengths:
    """Field lengths of a finished segment's documents, read once per field (Whoosh's writer looks each one
    up again for every posting: about a tenth of a build)."""

    def __init__(self, reader) -> None:
        self.reader = reader
        self._columns: dict[tuple[str, int], list] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        column = self._columns.get((fieldname, default))
        if column is None:
            look_up = self.reader.doc_field_length
            column = self._columns[fieldname, default] = [look_up(d, fieldname, default)
                                                          for d in range(self.reader.doc_count_all())]
        return column[docnum]


_WORDS = re.compile(r"[^ \t\r\n]+")  # the expression of whoosh.analysis.SpaceSeparatedTokenizer


def _counted_words(value, **_options):
    """``field.index`` of a space-separated TEXT field with the Frequency format, without Whoosh's token
    objects: the same (word, frequency, weight, encoded frequency) items, a third of the cost."""
    for word, frequency in Counter(_WORDS.findall(value)).items():
        yield word.encode("utf-8"), frequency, float(frequency), pack_uint(frequency)


def _whole_value(value, **_options):
    """``field.index`` of an ID field (the whole value, once, no analysis), as Whoosh's own would yield it."""
    yield value.encode("utf-8"), 1, 1.0, b""


def _fast_index(field):
    """The cheaper ``index`` for the field types our schema uses, None for any other."""
    analyzer = getattr(field, "analyzer", None)
    boost = getattr(field.format, "field_boost", None)
    if (isinstance(field, TEXT) and isinstance(analyzer, RegexTokenizer) and not analyzer.gaps
            and analyzer.expression.pattern == _WORDS.pattern and type(field.format) is Frequency and boost == 1.0):
        return _counted_words
    if type(field) is ID and type(analyzer) is IDTokenizer and type(field.format) is Existence and boost == 1.0:
        return _whole_value
    return None


class _TermPool:
    """The postings of the segment being written, grouped by term in memory: about 12 bytes a posting
    (weights as the 32-bit floats Whoosh writes them as: its blocks and term totals hold them that way).

    Whoosh's own pool keeps a tuple of five objects per posting (~200 bytes), so it spills sorted runs
    to disk, one pickle per posting, and merges them back: a third of the CPU of a large build and most
    of its memory. Documents arrive in order, so each term's postings are already sorted; only the terms
    are sorted at the end, and the postings come out in the order Whoosh's pool gives them. A term with
    one posting (every code, rare words) stays a plain tuple; encoded values (a few distinct frequencies)
    are kept once, by number.
    """

    def __init__(self) -> None:
        self._terms: dict[tuple[str, bytes], tuple] = {}
        self._values: list[bytes | None] = []
        self._numbers: dict[bytes | None, int] = {}

    def _number(self, value: bytes | None) -> int:
        number = self._numbers.get(value)
        if number is None:
            number = self._numbers[value] = len(self._values)
            self._values.append(value)
        return number

    def add(self, item) -> None:
        fieldname, text, docnum, weight, value = item
        key = (fieldname, text)
        postings = self._terms.get(key)
        if postings is None:
            self._terms[key] = (docnum, weight, value)
        elif len(postings) == 3:
            self._terms[key] = (array("i", (postings[0], docnum)), array("f", (postings[1], weight)),
                                array("I", (self._number(postings[2]), self._number(value))), None)
        else:
            postings[0].append(docnum)
            postings[1].append(weight)
            postings[2].append(self._number(value))

    def iter_postings(self) -> Iterator[tuple]:
        values = self._values
        for key in sorted(self._terms):
            fieldname, text = key
            postings = self._terms.pop(key)
            if len(postings) == 3:
                yield fieldname, text, *postings
                continue
            docnums, weights, numbers, _ = postings
            for k in range(len(docnums)):
                yield fieldname, text, docnums[k], weights[k], values[numbers[k]]

    def cleanup(self) -> None:
        self._terms = {}


class _BuildWriter(SegmentWriter):
    """A segment writer for full builds: cheaper field indexing (:func:`_counted_words`,
    :func:`_whole_value`), posting pool (:class:`_TermPool`) and length look-ups (:class:`_Lengths`)."""

    def __init__(self, ix, **options) -> None:
        super().__init__(ix, **options)
        self.pool = _TermPool()
        fields = [self.schema[name] for name in self.schema.names()]
        fields += [field for _, field in self.schema._dyn_fields.values()]  # f_* facets
        for field in fields:  # this writer's own copy of the schema: the index keeps Whoosh's classes
            fast = _fast_index(field)
            if fast is not None:
                field.index = fast

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.codec.length_stats else None
        self.fieldwriter.add_postings(self.schema, _Lengths(lengths) if lengths else None, self.pool.iter_postings())
        self.fieldwriter.close()
        if lengths:
            lengths.close()


def _write_slice(ix, source, start: int, end: int, fields_of, report):
    """Segment and write documents ``start``–``end`` into a new segment of ``ix``; return it (None if empty)."""
    writer = _BuildWriter(ix, _lk=False)  # the caller holds the index's only writer lock
    try:
        pending = 0
        for document in source.read(start, end):
            writer.add_document(**fields_of(document))
            pending += 1
            if report is not None and pending == REPORT_EVERY:
                report(pending)
                pending = 0
        if report is not None and pending:
            report(pending)
        if not writer._added:
            writer._close_segment()
            return None
        return writer._finalize_segment()
    except BaseException:
        writer._close_segment()
        raise


def _worker(connection, counter, ix, source, start, end, fields_of) -> None:
    def report(done: int) -> None:
        with counter.get_lock():
            counter.value += done

    try:
        segment = _write_slice(ix, source, start, end, fields_of, report)
        connection.send(("ok", segment))
    except BaseException as error:  # sent back as it is, so the caller sees e.g. a full disk as an OSError
        details = traceback.format_exc(limit=8)
        try:
            connection.send(("error", error, details))
        except Exception:  # not picklable
            connection.send(("error", RuntimeError(f"{error.__class__.__name__}: {error}"), details))
    finally:
        connection.close()


def _write_in_workers(ix, source, parts, fields_of, progress) -> list:
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    workers = []
    # Objects the workers inherit (the jieba dictionary, ~100 MB) stay shared with this process only while
    # nothing writes to their memory: frozen, the workers' garbage collector never visits them.
    gc.collect()
    gc.freeze()
    try:
        for k, (start, end) in enumerate(parts):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker, name=f"kb-index-build-{k}", daemon=True,
                args=(sender, counter, ix, source, start, end, fields_of))
            process.start()
            sender.close()
            workers.append((process, receiver))
    finally:
        gc.unfreeze()
    results: list = [None] * len(workers)
    reported = 0
    try:
        waiting = set(range(len(workers)))
        while waiting:
            for k in sorted(waiting):
                process, receiver = workers[k]
                if receiver.poll(0.1):
                    results[k] = receiver.recv()
                    waiting.discard(k)
                elif not process.is_alive() and not receiver.poll():
                    results[k] = ("error", RuntimeError(f"建索引的子进程意外退出（退出码 {process.exitcode}）"), "")
                    waiting.discard(k)
            if progress is not None:
                done = counter.value
                if done > reported:
                    progress(done - reported)
                    reported = done
            failed = next((r for r in results if r is not None and r[0] == "error"), None)
            if failed:
                error = failed[1]
                error.add_note(f"重建检索索引失败，原有索引未改动。子进程中的出错位置：\n{failed[2]}")
                raise error
    finally:
        for process, receiver in workers:
            if process.is_alive():
                process.terminate()
            process.join()
            receiver.close()
    return [segment for _, segment in results]


"""Full Whoosh builds (search/whoosh_build.py): parallel builds rank exactly like serial ones, documents are
streamed, and a failed build leaves the live index as it was."""
from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session
from whoosh import index as whoosh_index

from kb.indexing import FACETS, INDICATOR_FIELDS, iter_documents, search_options
from search import whoosh_build
from search.base import Document, SearchQuery
from search.whoosh_backend import WhooshBackend

QUERY_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "queries" / "pilot_blind.yaml"


def _backend(path: Path, procs: int) -> WhooshBackend:
    return WhooshBackend(INDICATOR_FIELDS, index_dir=path, build_procs=procs, **search_options())


def _segments(backend: WhooshBackend) -> int:
    ix = whoosh_index.open_dir(str(backend.index_dir / backend._generation()))
    try:
        return len(ix._segments())
    finally:
        ix.close()


def _answer(backend: WhooshBackend, text: str, **filters) -> tuple:
    results = backend.search(SearchQuery(text=text, filters=filters, facets=FACETS, limit=10))
    return results.total, [(h.key, round(h.score, 9)) for h in results.hits], results.facet_counts


def test_slices_are_contiguous_nearly_equal_and_cover_everything() -> None:
    assert whoosh_build.slices(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert whoosh_build.slices(2, 4) == [(0, 1), (1, 2)]
    assert whoosh_build.slices(0, 2) == []


@pytest.mark.skipif(not whoosh_build.can_fork(), reason="parallel builds need fork")
def test_parallel_build_answers_the_benchmark_queries_exactly_like_a_serial_build(
        seeded: Session, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(whoosh_build, "PARALLEL_FROM", 1)  # the seed is small: split it anyway
    serial, parallel = _backend(tmp_path / "serial", 1), _backend(tmp_path / "parallel", 3)
    written: list[int] = []
    try:
        count = serial.rebuild(iter_documents(seeded))
        assert parallel.rebuild(iter_documents(seeded), progress=written.append) == count
        assert sum(written) == count
        assert (_segments(serial), _segments(parallel)) == (1, 3)  # three workers wrote a segment each
        assert serial.fingerprints() == parallel.fingerprints()
        queries = yaml.safe_load(QUERY_FILE.read_text(encoding="utf-8"))["queries"]
        assert len(queries) > 200
        for item in queries:
            expected = _answer(serial, item["query"])
            assert expected[1], item["query"]
            assert _answer(parallel, item["query"]) == expected, item["query"]
            department = {"department": item["department"]}
            assert _answer(parallel, item["query"], **department) == _answer(serial, item["query"], **department)
        assert parallel.suggest("高血压") == serial.suggest("高血压")
    finally:
        serial.close()
        parallel.close()


def _generated(count: int, alive: list, seen: list[int]):
    """Documents made on demand; records how many earlier ones are still in memory at each step."""
    refs = []
    for n in range(count):
        gc.collect() if n % 100 == 0 else None
        seen.append(sum(1 for ref in refs if ref() is not None))
        document = Document(key=f"S-{n:04d}", text={"name": f"第{n}号道路养护里程", "keywords": f"养护{n % 7} 里程",
                                                      "definition": "年度内完成养护的农村公路里程。"},
                            facets={"department": f"D{n % 5}"}, fingerprint=str(n))
        refs.append(weakref.ref(document))
        alive.append(n)
        yield document


@pytest.mark.parametrize("procs", [1, 2])
def test_rebuild_reads_a_stream_once_without_holding_it(tmp_path: Path, monkeypatch, procs: int) -> None:
    monkeypatch.setattr(whoosh_build, "PARALLEL_FROM", 1)
    backend = _backend(tmp_path / "index", procs)
    produced, still_held = [], []
    try:
        assert backend.rebuild(_generated(600, produced, still_held)) == 600
        assert len(produced) == 600  # read once
        assert max(still_held) <= 2  # each document is written out and dropped before the next is made
        assert backend.count() == 600
        assert backend.search(SearchQuery(text="第599号道路养护里程", limit=1)).hits[0].key == "S-0599"
        assert _segments(backend) == procs
        assert not list((tmp_path / "index").rglob("spool-*"))
    finally:
        backend.close()


@pytest.mark.skipif(not whoosh_build.can_fork(), reason="parallel builds need fork")
def test_a_failing_worker_abandons_the_new_index_and_keeps_the_live_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(whoosh_build, "PARALLEL_FROM", 1)
    backend = _backend(tmp_path / "index", 2)
    try:
        backend.rebuild(list(_generated(40, [], [])))
        live = backend._generation()
        original = backend._fields_of

        def broken(document: Document) -> dict:
            if document.key == "S-0030":  # in the second worker's slice
                raise OSError(28, "No space left on device")
            return original(document)

        monkeypatch.setattr(backend, "_fields_of", broken)
        with pytest.raises(OSError, match="No space left") as raised:  # as it was raised: kb index rebuild says so
            backend.rebuild(_generated(40, [], []))
        assert "原有索引未改动" in raised.value.__notes__[0] and "broken" in raised.value.__notes__[0]
        assert backend._generation() == live
        assert [p.name for p in (tmp_path / "index").glob("gen-*")] == [live]
        assert not list((tmp_path / "index").rglob("spool-*"))
        assert backend.search(SearchQuery(text="第7号道路养护里程", limit=1)).hits[0].key == "S-0007"
    finally:
        backend.close()


def _postings_and_lengths(backend: WhooshBackend) -> tuple:
    ix = whoosh_index.open_dir(str(backend.index_dir / backend._generation()))
    try:
        with ix.reader() as reader:
            postings = list(reader.iter_postings())
            fields = [name for name in ix.schema.names() if ix.schema[name].scorable]
            lengths = [[reader.doc_field_length(d, name) for name in fields] for d in range(reader.doc_count_all())]
            totals = {name: reader.field_length(name) for name in fields}
            stored = list(reader.all_stored_fields())
        return postings, lengths, totals, stored
    finally:
        ix.close()


def test_the_build_writer_writes_what_whooshs_own_writer_writes(seeded: Session, tmp_path: Path) -> None:
    """The rebuild's cheaper field indexing, posting pool and length look-ups change nothing on disk that
    a search reads: compared with documents added through Whoosh's own writer (the path edits take)."""
    documents = list(iter_documents(seeded))
    built, added = _backend(tmp_path / "built", 1), _backend(tmp_path / "added", 1)
    try:
        built.rebuild(documents)
        added.upsert(documents)  # an empty index: created, then every document through ix.writer()
        expected = _postings_and_lengths(added)
        assert len(expected[0]) > 20 * len(documents)
        assert _postings_and_lengths(built) == expected
    finally:
        built.close()
        added.close()


def test_a_rebuild_in_a_background_thread_stays_in_its_process(tmp_path: Path, monkeypatch) -> None:
    import threading

    monkeypatch.setattr(whoosh_build, "PARALLEL_FROM", 1)
    backend = _backend(tmp_path / "index", 2)
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(backend.rebuild(_generated(50, [], []))))
    try:
        thread.start()
        thread.join(60)
        assert outcome == [50] and _segments(backend) == 1  # no fork: one segment, written here
    finally:
        backend.close()

"""``BaseBackend.version()``: the value callers' caches (kb.search_cache) are valid for. It must change on
every write — from this process or another one — and stay put while nothing is written."""
from __future__ import annotations

from pathlib import Path

import pytest

from search import BaseBackend, SearchQuery
from tests.search.test_contract import ENGINES, FIELDS, LIBRARY, OPTIONS, doc

VERSIONED = ("whoosh", "postgres")  # the memory test engine reports none: nothing is cached on it


@pytest.fixture(params=VERSIONED)
def engines(request, tmp_path: Path):
    """Two backends on the same index, as two gunicorn workers have."""
    first = ENGINES[request.param](tmp_path, FIELDS, OPTIONS)
    first.rebuild(LIBRARY)
    if request.param == "whoosh":
        second = ENGINES["whoosh"](tmp_path, FIELDS, OPTIONS)
    else:
        from search import load_backend

        second = load_backend("search.postgres_backend.PostgresBackend", fields=FIELDS, dsn=first.dsn,
                              table=first.table, **OPTIONS)
    yield first, second
    second.close()
    first.close()


def test_the_version_moves_on_every_write_seen_from_another_process(engines: tuple[BaseBackend, BaseBackend]) -> None:
    writer, reader = engines
    seen = [reader.version()]
    assert seen[0] is not None
    reader.search(SearchQuery(text="路灯"))
    assert reader.version() == seen[0]  # reading changes nothing
    writer.upsert([doc("A-010", "垃圾清运及时率")])
    seen.append(reader.version())
    writer.delete(["A-010"])
    seen.append(reader.version())
    writer.rebuild(LIBRARY)
    seen.append(reader.version())
    assert len(set(seen)) == len(seen), seen


def test_the_memory_engine_reports_no_version(tmp_path: Path) -> None:
    assert ENGINES["memory"](tmp_path, FIELDS, OPTIONS).version() is None

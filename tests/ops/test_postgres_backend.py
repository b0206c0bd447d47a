"""The PostgreSQL full-text backend's own guarantees (the shared behaviour is the search contract suite):
exact lexemes, exact term statistics after updates, an atomic rebuild, one writer across processes."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from search.base import Document, FieldSpec, IndexBusy, SearchQuery
from search.postgres_backend import PostgresBackend, tsquery_literal, tsvector_literal
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (KB_TEST_DATABASE_URL)")
FIELDS = (FieldSpec("name", 8.0, exact=True, highlight=True, title=True), FieldSpec("keywords", 4.0, dictionary=True),
          FieldSpec("definition", 1.5, highlight=True))


def doc(key: str, name: str, keywords: str = "", definition: str = "", department: str = "101") -> Document:
    return Document(key=key, text={"name": name, "keywords": keywords, "definition": definition},
                    facets={"department": department}, fingerprint=f"{key}:{name}")


@pytest.fixture
def backend() -> Iterator[PostgresBackend]:
    table = f"test_search_{uuid.uuid4().hex[:8]}"
    instance = PostgresBackend(FIELDS, dsn=POSTGRES_URL, table=table)
    yield instance
    instance.drop()
    instance.close()


def test_lexemes_survive_exactly(backend: PostgresBackend) -> None:
    tokens = ["满意度", "it's", "back\\slash", "%", "≥", "90"]
    with psycopg.connect(backend.dsn) as connection:
        stored = connection.execute("SELECT tsvector_to_array(%s::tsvector)", (tsvector_literal(tokens),)).fetchone()[0]
        assert sorted(stored) == sorted(tokens)
        assert connection.execute("SELECT %s::tsvector @@ %s::tsquery", (tsvector_literal(tokens), tsquery_literal(["it's"]))).fetchone()[0]


def _statistics(backend: PostgresBackend) -> dict:
    with psycopg.connect(backend.dsn) as connection:
        return dict(((term, group), df) for term, group, df in connection.execute(f"SELECT term, grp, df FROM {backend.table}_terms"))


def test_term_statistics_stay_exact_through_updates_and_deletes(backend: PostgresBackend) -> None:
    backend.rebuild([doc("A", "学生资助覆盖率", "资助"), doc("B", "资助资金到位率", "资金")])
    backend.upsert([doc("A", "高血压患者规范管理率", "慢病")])
    backend.delete(["B"])
    incremental = _statistics(backend)
    backend.rebuild([doc("A", "高血压患者规范管理率", "慢病")])
    assert incremental == _statistics(backend)
    assert backend.fingerprints() == {"A": "A:高血压患者规范管理率"}
    assert [hit.key for hit in backend.search(SearchQuery("高血压")).hits] == ["A"]
    assert backend.search(SearchQuery("资助")).total == 0


def test_rebuild_swaps_the_whole_index(backend: PostgresBackend) -> None:
    backend.rebuild([doc("A", "学生资助覆盖率")])
    other = PostgresBackend(FIELDS, dsn=POSTGRES_URL, table=backend.table)
    try:
        assert other.search(SearchQuery("资助")).total == 1
        backend.rebuild([doc("B", "道路养护里程", department="102"), doc("C", "道路优良率", department="102")])
        assert {hit.key for hit in other.search(SearchQuery("道路")).hits} == {"B", "C"}
        assert other.search(SearchQuery("资助")).total == 0
        assert other.search(SearchQuery("", filters={"department": "102"}, facets=("department",))).facet_counts == {"department": {"102": 2}}
    finally:
        other.close()


def test_one_writer_at_a_time_across_connections(backend: PostgresBackend) -> None:
    backend.rebuild([doc("A", "学生资助覆盖率")])
    other = PostgresBackend(FIELDS, dsn=POSTGRES_URL, table=backend.table, write_timeout=0.2)
    try:
        with backend.lock(timeout=1) as held:
            assert held
            with other.lock(timeout=0.2) as other_held:
                assert not other_held
            with pytest.raises(IndexBusy):
                other.upsert([doc("B", "道路养护里程")])
        other.upsert([doc("B", "道路养护里程")])
        assert set(backend.fingerprints()) == {"A", "B"}
    finally:
        other.close()


def test_exact_names_filters_and_suggestions(backend: PostgresBackend) -> None:
    backend.rebuild([doc("A", "学生资助覆盖率", department="101"), doc("B", "学生资助资金到位率", department="102"),
                     doc("C", "资助对象满意度", department="102")])
    assert backend.search(SearchQuery("学生资助覆盖率")).hits[0].key == "A"
    assert {hit.key for hit in backend.search(SearchQuery("资助", filters={"department": "102"})).hits} == {"B", "C"}
    assert {hit.key for hit in backend.search(SearchQuery("资助", exclude=("A",))).hits} == {"B", "C"}
    assert backend.suggest("学生")[:2] == ["A", "B"]
    assert "<mark>资助</mark>" in backend.search(SearchQuery("资助", filters={"department": "101"})).hits[0].highlights["name"]

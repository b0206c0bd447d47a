"""kb.search_cache: values live for one index version; kb.searching uses it for analysed queries."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from kb.indexing import INDICATOR_FIELDS, documents_for, rebuild_index, search_options
from kb.models import Department, Indicator
from kb.schemas import SearchHitSchema
from kb.search_cache import VersionedCache
from kb.searching import recommend_indicators, search_indicators, understood
from search.whoosh_backend import WhooshBackend


def counter():
    calls = []

    def compute(value="v"):
        calls.append(value)
        return value

    return calls, compute


def test_values_are_computed_once_per_version():
    cache = VersionedCache()
    calls, compute = counter()
    assert cache.value(1, "a", compute) == "v" and cache.value(1, "a", compute) == "v"
    assert len(calls) == 1
    cache.value(2, "a", compute)  # the index moved on: computed again
    assert len(calls) == 2
    cache.value(1, "a", compute)  # and an older version is not trusted either
    assert len(calls) == 3


def test_no_version_means_no_caching():
    cache = VersionedCache()
    calls, compute = counter()
    for _ in range(3):
        cache.memo(None, "k", compute)
        cache.value(None, "a", compute)
    assert len(calls) == 6 and len(cache) == 0


def test_the_memo_keeps_the_most_recently_used():
    cache = VersionedCache(size=2)
    calls, compute = counter()
    cache.memo(1, "a", lambda: compute("a"))
    cache.memo(1, "b", lambda: compute("b"))
    cache.memo(1, "a", lambda: compute("a"))  # a is now the most recent
    cache.memo(1, "c", lambda: compute("c"))  # b goes
    cache.memo(1, "a", lambda: compute("a"))
    cache.memo(1, "b", lambda: compute("b"))
    assert calls == ["a", "b", "c", "b"] and len(cache) == 2


def test_threads_share_one_cache():
    cache = VersionedCache()
    calls, compute = counter()
    cache.value(7, "a", compute)
    threads = [threading.Thread(target=lambda: cache.value(7, "a", compute)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1


@pytest.fixture
def backend(seeded: Session, tmp_path: Path):
    engine = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "index", **search_options())
    rebuild_index(seeded, engine)
    seeded.commit()
    yield engine
    engine.close()


def test_understood_queries_are_read_once_per_index_version(seeded: Session, backend) -> None:
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 — before_cursor_execute(conn, cursor, statement, …)
    event.listen(seeded.get_bind(), "before_cursor_execute", listener)
    try:
        first = understood(seeded, backend, "卫健局 满意度指标")
        assert understood(seeded, backend, "卫健局 满意度指标") is first
        understood(seeded, backend, "教育局 覆盖率")  # another text: the department vocabulary is cached too
    finally:
        event.remove(seeded.get_bind(), "before_cursor_execute", listener)
    assert first.departments == ["102"] and first.level1 == "满意度指标"
    assert len([s for s in statements if "departments" in s.lower()]) == 1


def test_a_department_renamed_and_reindexed_is_read_anew(seeded: Session, backend) -> None:
    before = search_indicators(seeded, backend, "高血压 管理", limit=3)
    assert before["hits"][0]["department"]["name"] == "县卫生健康局"
    seeded.scalar(select(Department).where(Department.code == "102")).name = "县卫生和健康局"
    seeded.commit()
    codes = seeded.scalars(select(Indicator.code).join(Department).where(Department.code == "102")).all()
    backend.upsert(documents_for(seeded, codes)[0])  # what the index sync does after the commit
    after = search_indicators(seeded, backend, "高血压 管理", limit=3)
    assert after["hits"][0]["department"]["name"] == "县卫生和健康局"
    assert after["labels"]["department"]["102"] == "县卫生和健康局"


def test_hits_are_in_the_hit_schemas_shape(seeded: Session, backend) -> None:
    """hits_for builds the dictionaries itself (a schema per hit was a fifth of a search): they must be
    exactly what SearchHitSchema would give."""
    for query in ("高血压 管理", "满意度", "yszxl", "城乡低保月均保障人数"):
        for hit in search_indicators(seeded, backend, query, limit=10)["hits"]:
            assert SearchHitSchema().dump(hit) == hit


@pytest.mark.parametrize("text, category", [
    ("学生生活补贴发放：为家庭经济困难学生按月发放生活补贴", None),  # the dominant department is re-queried
    ("资金拨付及时", "补助补贴类"),  # a 满意度 indicator is added for a public-service project
])
def test_recommendations_leave_out_what_the_reader_may_not_see(seeded: Session, backend, text, category) -> None:
    """Every search behind a recommendation excludes the hidden codes (another department's draft), the
    re-query for the dominant department and the added 满意度 indicators too."""
    visible = recommend_indicators(seeded, backend, text, category=category, limit=30)["hits"]
    hidden = tuple(hit["code"] for hit in visible)
    again = recommend_indicators(seeded, backend, text, category=category, limit=30, hidden=hidden)["hits"]
    assert not {hit["code"] for hit in again} & set(hidden)


def test_a_live_synonym_edit_is_not_answered_from_the_cache(seeded: Session, backend) -> None:
    """Finance's synonym edits swap the backend's settings without an index write (kb/live_synonyms.py)."""
    assert search_indicators(seeded, backend, "阿巴阿巴")["total"] == 0
    backend.set_synonyms([["阿巴阿巴", "满意度"]])
    assert search_indicators(seeded, backend, "阿巴阿巴")["total"] > 0

"""The query log service: recording (never breaking a search), opens, pruning and finance's reports."""
from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect, select

from kb.db import make_engine
from kb.models import QueryLogEntry
from kb.services import query_log
from kb.services.query_log import (
    add_search, few_hit_queries, normalise_query, prune, record_open, record_search, searches_per_day,
    unopened_queries, zero_hit_queries,
)

NOW = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.timezone.utc)
BEIJING = ZoneInfo("Asia/Shanghai")


def _search(session, query: str, hits: int, *, channel: str = "page", days_ago: float = 0, opened: int | None = None,
            **fields) -> int:
    entry_id = add_search(session, query=query, hits=hits, role=fields.pop("role", "finance"), channel=channel,
                          at=NOW - dt.timedelta(days=days_ago), **fields)
    if opened is not None:
        assert record_open(session, entry_id, opened)
    return entry_id


def test_the_table_has_no_column_for_a_person(engine):
    columns = {column["name"] for column in inspect(engine).get_columns("query_log")}
    assert columns == {"id", "at", "query", "filters", "hits", "role", "department", "channel", "opened_rank"}


def test_normalise_query_folds_width_case_and_spaces():
    assert normalise_query("  高血压　　管理 ") == "高血压 管理"
    assert normalise_query("ＧＤＰ　增长") == "gdp 增长"
    assert len(normalise_query("长" * 5000)) == 200


def test_add_search_stores_role_department_code_and_filters(session, make_department):
    department = make_department("901", "测试局")
    entry_id = _search(session, "  学生　资助 ", 4, role="department", department_id=department.id,
                       filters={"level1": "效益指标", "unit": ""})
    entry = session.get(QueryLogEntry, entry_id)
    assert (entry.query, entry.hits, entry.role, entry.department, entry.channel) == ("学生 资助", 4, "department", "901", "page")
    assert entry.filters == {"level1": "效益指标"} and entry.opened_rank is None


def test_add_search_refuses_an_unknown_channel(session):
    with pytest.raises(ValueError, match="channel"):
        add_search(session, query="x", hits=0, role="finance", channel="email")


def test_record_search_commits_in_its_own_transaction(engine, session):
    entry_id = record_search(engine, query="道路 养护", hits=7, role="expert", channel="api")
    assert entry_id is not None
    assert session.get(QueryLogEntry, entry_id).hits == 7  # another session sees it: committed


def test_record_search_swallows_a_failure_as_a_warning(tmp_path, caplog):
    broken = make_engine(f"sqlite:///{tmp_path / 'missing' / 'no.sqlite3'}")  # the folder does not exist
    with caplog.at_level(logging.WARNING, logger="kb.services.query_log"):
        assert record_search(broken, query="x", hits=0, role="finance", channel="page") is None
    assert "检索日志未能记录" in caplog.text
    broken.dispose()


def test_record_search_gives_up_quickly_when_sqlite_is_locked(engine, database_url, caplog):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's single writer lock")
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer (an import, a backup) holds the lock
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="kb.services.query_log"):
            assert record_search(engine, query="x", hits=0, role="finance", channel="page") is None
        assert time.monotonic() - started < 3  # not the 15 s the application waits for its own writes
        assert "检索日志未能记录" in caplog.text
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # The pooled connection got the application's patience back, and works.
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == query_log.SQLITE_BUSY_TIMEOUT_MS
    assert record_search(engine, query="y", hits=1, role="finance", channel="page") is not None


def test_record_open_keeps_only_the_first_open(session):
    entry_id = _search(session, "满意度", 12)
    assert record_open(session, entry_id, 3)
    assert not record_open(session, entry_id, 1)
    assert not record_open(session, entry_id + 100, 1)  # no such search: nothing happens
    assert not record_open(session, _search(session, "x", 1), 0)  # ranks start at 1
    assert not record_open(session, _search(session, "y", 1), 2**40)  # and stay in the integer range
    assert session.get(QueryLogEntry, entry_id).opened_rank == 3


def test_prune_removes_only_rows_older_than_the_period(session):
    _search(session, "old", 1, days_ago=181)
    _search(session, "kept", 1, days_ago=179)
    assert prune(session, 180, now=NOW) == 1
    assert session.scalars(select(QueryLogEntry.query)).all() == ["kept"]
    assert prune(session, 0, now=NOW) == 0  # 0 keeps everything
    assert session.scalar(select(func.count()).select_from(QueryLogEntry)) == 1


def test_zero_and_few_hit_queries_are_counted_in_the_period(session):
    for _ in range(3):
        _search(session, "看病 报销", 0, days_ago=1)
    _search(session, "修房子", 0, days_ago=2)
    _search(session, "修房子", 0, days_ago=40)  # before the period
    _search(session, "防洪", 2, days_ago=1)
    _search(session, "防洪", 2, days_ago=3)
    _search(session, "满意度", 30, days_ago=1)
    since = NOW - dt.timedelta(days=30)

    zero = zero_hit_queries(session, since)
    assert [(row.query, row.searches) for row in zero] == [("看病 报销", 3), ("修房子", 1)]
    few = few_hit_queries(session, since)
    assert [(row.query, row.searches, row.hits) for row in few] == [("防洪", 2, 2)]
    assert few_hit_queries(session, since, max_hits=1) == []
    assert [row.query for row in zero_hit_queries(session, NOW - dt.timedelta(days=60))] == ["看病 报销", "修房子"]
    assert zero_hit_queries(session, NOW - dt.timedelta(days=60))[1].searches == 2


def test_unopened_queries_are_page_searches_with_hits_never_opened(session):
    _search(session, "学生资助", 10, days_ago=1)
    _search(session, "学生资助", 10, days_ago=2, opened=1)  # opened once: not listed
    _search(session, "道路 养护", 5, days_ago=1)
    _search(session, "道路 养护", 5, days_ago=2)
    _search(session, "垃圾 清运", 4, days_ago=1, channel="api")  # the API reports no opens: not judged
    _search(session, "看病", 0, days_ago=1)  # nothing to open: in the zero-hit list instead
    rows = unopened_queries(session, NOW - dt.timedelta(days=30))
    assert [(row.query, row.searches, row.hits) for row in rows] == [("道路 养护", 2, 5)]


def test_searches_per_day_uses_the_users_calendar_and_fills_empty_days(session):
    # 17:00 UTC is 01:00 the next day in Beijing.
    add_search(session, query="a", hits=0, role="finance", channel="page", at=dt.datetime(2026, 12, 1, 17, tzinfo=dt.timezone.utc))
    add_search(session, query="b", hits=3, role="finance", channel="api", at=dt.datetime(2026, 12, 2, 3, tzinfo=dt.timezone.utc))
    add_search(session, query="c", hits=2, role="finance", channel="page", at=dt.datetime(2026, 12, 3, 3, tzinfo=dt.timezone.utc))
    days = searches_per_day(session, dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc), BEIJING,
                            until=dt.datetime(2026, 12, 4, 3, tzinfo=dt.timezone.utc))
    assert [(d.day.isoformat(), d.searches, d.zero_hits) for d in days] == [
        ("2026-12-01", 0, 0), ("2026-12-02", 2, 1), ("2026-12-03", 1, 0), ("2026-12-04", 0, 0)]
    assert days[1].zero_share == 0.5 and days[0].zero_share == 0.0

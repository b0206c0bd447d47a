"""Engine settings: SQLite pragmas, write transactions that never fail with "database is locked",
no lost updates between two writers, and the database-level audit-log protection."""
from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from kb.db import create_schema, make_engine, make_session_factory, sqlite_pragmas, write_engine
from kb.models import AuditEntry, Department
from tests.conftest import POSTGRES_URL

sqlite_only = pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite locking and pragmas; PostgreSQL has row locks")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    return url


def test_sqlite_connection_settings(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    assert sqlite_pragmas(engine) == {"foreign_keys": 1, "journal_mode": "wal", "synchronous": 2, "busy_timeout": 15000}
    engine.dispose()


def test_plain_deferred_transaction_fails_in_this_race(tmp_path: Path) -> None:
    """The control: what SQLite does without our BEGIN handling (why kb.db exists)."""
    path = tmp_path / "raw.sqlite3"
    first = sqlite3.connect(path, isolation_level=None, timeout=5)
    first.execute("PRAGMA journal_mode=WAL")
    first.execute("CREATE TABLE t (x INTEGER)")
    second = sqlite3.connect(path, isolation_level=None, timeout=5)
    first.execute("BEGIN")
    first.execute("SELECT count(*) FROM t").fetchone()
    second.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        first.execute("INSERT INTO t VALUES (2)")
    first.close()
    second.close()


@sqlite_only
def test_read_then_write_after_another_commit_succeeds(sqlite_url: str) -> None:
    engine, other = make_engine(sqlite_url), make_engine(sqlite_url)
    with engine.connect() as connection:
        transaction = connection.begin()
        assert connection.scalar(select(func.count()).select_from(Department)) == 0  # snapshot taken
        with other.begin() as second:
            second.execute(insert(Department).values(code="901", name="甲局", pilot=False, functions=[]))
        connection.execute(insert(Department).values(code="902", name="乙局", pilot=False, functions=[]))
        transaction.commit()
    with engine.connect() as connection:
        assert connection.scalars(select(Department.code).order_by(Department.code)).all() == ["901", "902"]
    engine.dispose()
    other.dispose()


@sqlite_only
def test_writer_waits_for_the_lock_instead_of_failing(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    holder = write_engine(make_engine(sqlite_url))
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with holder.begin() as connection:
            connection.execute(insert(Department).values(code="901", name="甲局", pilot=False, functions=[]))
            locked.set()
            release.wait(5)

    thread = threading.Thread(target=hold_lock)
    thread.start()
    locked.wait(5)
    threading.Timer(0.3, release.set).start()
    with engine.begin() as connection:  # blocks until the holder commits, then writes
        connection.execute(insert(Department).values(code="902", name="乙局", pilot=False, functions=[]))
    thread.join()
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Department)) == 2
    engine.dispose()


def test_two_writers_of_the_same_row_never_lose_an_update(database_url: str, make_indicator, session) -> None:
    make_indicator(code="T-001", name="原名")
    session.commit()
    engine_a, engine_b = make_engine(database_url), make_engine(database_url)
    first, second = make_session_factory(engine_a)(), make_session_factory(engine_b)()
    from kb.models import Indicator

    mine = first.scalar(select(Indicator).where(Indicator.code == "T-001"))
    theirs = second.scalar(select(Indicator).where(Indicator.code == "T-001"))
    theirs.name = "他人修改"
    second.commit()
    mine.name = "我的修改"
    with pytest.raises(StaleDataError):
        first.commit()
    first.rollback()
    assert first.scalar(select(Indicator.name).where(Indicator.code == "T-001")) == "他人修改"
    first.close()
    second.close()
    engine_a.dispose()
    engine_b.dispose()


def _add_audit_row(engine: Engine, at: dt.datetime | None = None) -> None:
    values = dict(actor="a", actor_role="admin", remote_addr="", action="x", entity_type="t", entity_key="k", summary="")
    if at is not None:
        values["at"] = at
    with engine.begin() as connection:
        connection.execute(insert(AuditEntry).values(**values))


def test_database_refuses_to_change_audit_rows(engine: Engine) -> None:
    _add_audit_row(engine)
    with pytest.raises(DBAPIError, match="只允许追加"):
        with engine.begin() as connection:
            connection.execute(update(AuditEntry).values(summary="篡改"))
    with pytest.raises(DBAPIError, match="留存期"):
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM audit_log"))
    with engine.connect() as connection:
        assert connection.scalar(select(AuditEntry.summary)) == ""


def test_rows_past_the_legal_retention_may_be_purged(engine: Engine) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    _add_audit_row(engine, at=now - dt.timedelta(days=200))
    _add_audit_row(engine, at=now - dt.timedelta(days=100))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE at < :cutoff"), {"cutoff": now - dt.timedelta(days=184)})
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(AuditEntry)) == 1



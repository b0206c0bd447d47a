"""Engines and sessions for SQLite (the embedded default) and PostgreSQL.

SQLite gets WAL, a busy timeout, ``synchronous=FULL`` and foreign keys on every connection, and
write transactions that take the write lock up front. PostgreSQL gets pre-ping (a restarted
server or a dropped idle connection is replaced instead of failing the next request).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from kb.models import Base

SQLITE_BUSY_TIMEOUT_MS = 15_000

# Statements that need the write lock. SAVEPOINT counts: a nested transaction is opened to write.
_WRITE_STATEMENT = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|SAVEPOINT|CREATE|DROP|ALTER)\b", re.IGNORECASE)
_MODE = "kb.sqlite.transaction"  # connection.info key: "deferred" (read so far), "immediate" (holds the lock)


def make_engine(url: str, **options) -> Engine:
    """An engine for ``url`` with the settings this application relies on."""
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        event.listen(engine, "before_cursor_execute", _take_write_lock, retval=False)
        event.listen(engine, "commit", _end_sqlite)
        event.listen(engine, "rollback", _end_sqlite)
        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


SessionListeners = list[tuple[sessionmaker, str, object]]


def listen_to_sessions(factory: sessionmaker[Session], **handlers) -> SessionListeners:
    """Register session event ``handlers`` (by event name) on ``factory``; :func:`stop_listening` undoes it.
    Listeners live as long as SQLAlchemy's registry of the factory's class: whatever they reference (a
    search backend, say) is kept alive until they are removed."""
    listeners = [(factory, name, handler) for name, handler in handlers.items()]
    for target, name, handler in listeners:
        event.listen(target, name, handler)
    return listeners


def stop_listening(listeners: SessionListeners) -> None:
    for target, name, handler in listeners:
        if event.contains(target, name, handler):
            event.remove(target, name, handler)
    listeners.clear()


def _configure_sqlite(dbapi_connection, _record) -> None:
    # pysqlite's own transaction handling is non-standard (it defers BEGIN until the first DML and
    # commits behind our back before DDL); we issue BEGIN ourselves, as SQLAlchemy's docs recommend.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    if not _is_memory(dbapi_connection):
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged save survives a power cut too (NORMAL may roll the last commits back).
        cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _is_memory(dbapi_connection) -> bool:
    rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    return all(not row[2] for row in rows)


def _begin_sqlite(connection: Connection) -> None:
    """Start reads deferred (they never block anyone); ``kb_write=True`` starts with the write lock."""
    if connection.get_execution_options().get("kb_write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        connection.info[_MODE] = "immediate"
    else:
        connection.exec_driver_sql("BEGIN")
        connection.info[_MODE] = "deferred"


def serialize_writers(session: Session, key: int) -> None:
    """Let one transaction at a time past this point until it ends (``key`` names what is guarded): a check that
    reads after it (a term in no other group) cannot be overtaken by another writer's check of the same thing.
    PostgreSQL: an advisory lock on ``key``. SQLite: the write lock, taken now rather than at the first write."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif connection.info.get(_MODE) == "deferred":
        _reopen_immediate(connection, connection.connection.dbapi_connection)


def _take_write_lock(connection: Connection, cursor, statement: str, parameters, context, executemany) -> None:
    """Before the first write of a transaction that has only read, re-open it with BEGIN IMMEDIATE.

    A deferred SQLite transaction that has read and then writes after another connection
    committed fails at once with SQLITE_BUSY ("database is locked"), whatever the busy timeout:
    its snapshot is stale and SQLite cannot upgrade it. Nothing has been written yet, so the
    read transaction is ended and a new one waits (up to the busy timeout) for the write lock.
    Rows read earlier may have changed meanwhile, as under PostgreSQL's READ COMMITTED; the
    version columns (``row_version``) turn such a change into an edit conflict, never a lost update.
    """
    if connection.info.get(_MODE) != "deferred" or not _WRITE_STATEMENT.match(statement):
        return
    _reopen_immediate(connection, cursor.connection)


def _reopen_immediate(connection: Connection, raw) -> None:
    raw.execute("ROLLBACK")
    raw.execute("BEGIN IMMEDIATE")
    connection.info[_MODE] = "immediate"


def _end_sqlite(connection: Connection) -> None:
    connection.info.pop(_MODE, None)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (views render after committing)."""
    return sessionmaker(engine, expire_on_commit=False)


def write_engine(engine: Engine) -> Engine:
    """The same engine, but every transaction takes the SQLite write lock at BEGIN (no effect on PostgreSQL).

    For batch work that writes anyway (imports, index outbox draining): it queues behind other
    writers at the start instead of after having done its reading.
    """
    return engine.execution_options(kb_write=True)


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet, with the database-level audit-log protection.

    Fast path for tests and throwaway databases; installations use migrations
    (:func:`kb.migrations.upgrade_database`) so later releases can upgrade them.
    """
    from kb.migrations.audit_protection import install_audit_protection

    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        install_audit_protection(connection)


def sqlite_pragmas(engine: Engine) -> dict[str, object]:
    """The connection settings in force (check-deploy asserts them)."""
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("foreign_keys", "journal_mode", "synchronous", "busy_timeout")
        }


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

"""The query log (检索日志): record searches and opened results, prune old rows, report for finance.

What a row holds and why is in :mod:`kb.models.query_log` (no user id, no address). Recording must
never cost a search its answer: :func:`record_search` runs in its own short transaction on its own
connection, waits at most :data:`SQLITE_LOG_WAIT_MS` for SQLite's write lock, and turns every failure
into a warning. The report functions read a period (``since``) and group by the normalised query.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from kb.db import SQLITE_BUSY_TIMEOUT_MS
from kb.models import Department
from kb.models.base import utcnow
from kb.models.query_log import CHANNELS, QUERY_LENGTH, QueryLogEntry

log = logging.getLogger(__name__)

#: SQLite: how long a log insert waits for another writer (an import…) before it gives up. The
#: search has its answer already; a lost log row is better than a search that hangs for 15 s.
SQLITE_LOG_WAIT_MS = 250
#: "Few hits": at most this many (the report's default; the page may choose another).
FEW_HITS = 3
#: The largest rank an open may report (beyond any result list a person pages through; keeps the
#: number inside the database's integer range whatever a client sends).
MAX_RANK = 10_000
_SPACES = re.compile(r"\s+")


def normalise_query(text: str) -> str:
    """The form queries are stored and grouped by: NFKC (全角 → 半角), lower case, single spaces, cut."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _SPACES.sub(" ", text).strip()[:QUERY_LENGTH]


def _clean_filters(filters: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(key): str(value)[:100] for key, value in sorted((filters or {}).items()) if value not in (None, "")}


def add_search(session: Session | Connection, *, query: str, hits: int, role: str, channel: str,
               department_id: int | None = None, filters: Mapping[str, Any] | None = None,
               at: dt.datetime | None = None) -> int:
    """Insert one search row (one statement: the department code is looked up inside the INSERT) and
    return its id. The caller owns the transaction."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of {CHANNELS}")
    department = (select(Department.code).where(Department.id == department_id).scalar_subquery()
                  if department_id is not None else None)
    statement = insert(QueryLogEntry).values(
        at=at or utcnow(), query=normalise_query(query), filters=_clean_filters(filters), hits=max(0, int(hits)),
        role=str(role or "")[:20], department=department, channel=channel,
    ).returning(QueryLogEntry.id)
    return session.execute(statement).scalar_one()


@contextmanager
def impatient_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction (committed at the end) that on SQLite waits at most
    :data:`SQLITE_LOG_WAIT_MS` for the write lock; the pooled connection gets its usual wait back."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_LOG_WAIT_MS}")
        try:
            yield connection
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                connection.commit()


def record_search(engine: Engine, **fields: Any) -> int | None:
    """Log a search in its own short transaction; return the row id, or None when logging failed.

    Takes the *engine*, not the request's session: the log row must neither join the search's
    transaction nor fail it. On SQLite it waits at most :data:`SQLITE_LOG_WAIT_MS` for the write
    lock. Any error is logged as a warning and swallowed. ``fields`` are those of :func:`add_search`.
    """
    try:
        with impatient_connection(engine) as connection:
            return add_search(connection, **fields)
    except Exception as error:  # noqa: BLE001 - a log row must never break a search (issue 12 item 5)
        log.warning("检索日志未能记录（检索本身不受影响）：%s", error)
        return None


def record_searches(engine: Engine, rows: list[dict[str, Any]]) -> bool:
    """Log several searches (each the ``fields`` of :func:`add_search`) in one short transaction, as
    :func:`record_search` does one; return whether they were written."""
    try:
        with impatient_connection(engine) as connection:
            for fields in rows:
                add_search(connection, **fields)
        return True
    except Exception as error:  # noqa: BLE001 - a log row must never break a search (issue 12 item 5)
        log.warning("检索日志未能记录 %s 条（检索本身不受影响）：%s", len(rows), error)
        return False


def record_open(session: Session, entry_id: int, rank: int) -> bool:
    """Note that result ``rank`` (1 = the first hit) of search ``entry_id`` was opened or copied.

    Only the first open counts; later ones change nothing. One UPDATE, no read. Returns whether the
    row took this rank. The caller commits.
    """
    if not 1 <= rank <= MAX_RANK:
        return False
    result = session.execute(update(QueryLogEntry)
                             .where(QueryLogEntry.id == entry_id, QueryLogEntry.opened_rank.is_(None))
                             .values(opened_rank=rank))
    return result.rowcount == 1


def prune(session: Session | Connection, days: int, now: dt.datetime | None = None) -> int:
    """Delete rows older than ``days`` days; return how many. ``days`` ≤ 0 keeps everything."""
    if days <= 0:
        return 0
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    return session.execute(delete(QueryLogEntry).where(QueryLogEntry.at < cutoff)).rowcount or 0


def oldest_entry_at(session: Session) -> dt.datetime | None:
    """When the oldest kept row was written (None: the log is empty)."""
    return session.scalar(select(func.min(QueryLogEntry.at)))


# --- reports (检索分析) -------------------------------------------------------------------------

@dataclass(frozen=True)
class QueryCount:
    """One normalised query in the period: how often asked, hits (last seen), how often a result was opened."""

    query: str
    searches: int
    hits: int
    opened: int
    last_at: dt.datetime


def _grouped(session: Session, since: dt.datetime, *conditions, limit: int) -> list[QueryCount]:
    opened = func.count(QueryLogEntry.opened_rank)
    rows = session.execute(
        select(QueryLogEntry.query, func.count().label("searches"), func.max(QueryLogEntry.hits).label("hits"),
               opened.label("opened"), func.max(QueryLogEntry.at).label("last_at"))
        .where(QueryLogEntry.at >= since, QueryLogEntry.query != "", *conditions)
        .group_by(QueryLogEntry.query)
        .order_by(func.count().desc(), func.max(QueryLogEntry.at).desc(), QueryLogEntry.query)
        .limit(limit)
    )
    return [QueryCount(row.query, row.searches, row.hits, row.opened, row.last_at) for row in rows]


def zero_hit_queries(session: Session, since: dt.datetime, limit: int = 50) -> list[QueryCount]:
    """Queries that found nothing in the period, most frequent first."""
    return _grouped(session, since, QueryLogEntry.hits == 0, limit=limit)


def few_hit_queries(session: Session, since: dt.datetime, max_hits: int = FEW_HITS, limit: int = 50) -> list[QueryCount]:
    """Queries that found between 1 and ``max_hits`` indicators, most frequent first."""
    return _grouped(session, since, QueryLogEntry.hits.between(1, max_hits), limit=limit)


def unopened_queries(session: Session, since: dt.datetime, limit: int = 50) -> list[QueryCount]:
    """Queries with hits whose results were never opened or copied in the period, most frequent first.

    Only the search page reports opens, so only its searches count here (API clients open nothing
    we can see).
    """
    opened = func.count(QueryLogEntry.opened_rank)
    rows = session.execute(
        select(QueryLogEntry.query, func.count().label("searches"), func.max(QueryLogEntry.hits).label("hits"),
               func.max(QueryLogEntry.at).label("last_at"))
        .where(QueryLogEntry.at >= since, QueryLogEntry.query != "", QueryLogEntry.hits > 0,
               QueryLogEntry.channel == "page")
        .group_by(QueryLogEntry.query)
        .having(opened == 0)
        .order_by(func.count().desc(), func.max(QueryLogEntry.at).desc(), QueryLogEntry.query)
        .limit(limit)
    )
    return [QueryCount(row.query, row.searches, row.hits, 0, row.last_at) for row in rows]


@dataclass(frozen=True)
class Asker:
    """Who asked one query in the period, as far as the log knows (a role and a department, never a person)."""

    role: str
    department: str | None
    searches: int
    opened: int


def askers(session: Session, query: str, since: dt.datetime) -> list[Asker]:
    """Roles and departments that searched for ``query`` (as stored: :func:`normalise_query`), most first."""
    rows = session.execute(
        select(QueryLogEntry.role, QueryLogEntry.department, func.count().label("searches"),
               func.count(QueryLogEntry.opened_rank).label("opened"))
        .where(QueryLogEntry.at >= since, QueryLogEntry.query == normalise_query(query))
        .group_by(QueryLogEntry.role, QueryLogEntry.department)
        .order_by(func.count().desc(), QueryLogEntry.role, QueryLogEntry.department)
    )
    return [Asker(row.role, row.department, row.searches, row.opened) for row in rows]


@dataclass(frozen=True)
class DayCount:
    """Searches on one calendar day (in the users' time zone) and how many found nothing."""

    day: dt.date
    searches: int
    zero_hits: int

    @property
    def zero_share(self) -> float:
        return self.zero_hits / self.searches if self.searches else 0.0


def searches_per_day(session: Session, since: dt.datetime, zone: ZoneInfo, until: dt.datetime | None = None) -> list[DayCount]:
    """One entry per calendar day from ``since`` to ``until`` (days without searches count 0).

    Days are the users' days (``zone``), bucketed here rather than in SQL: the two backends spell
    time-zone conversion differently, and a period holds at most a few hundred thousand small rows.
    """
    until = until or utcnow()
    counts: dict[dt.date, list[int]] = {}
    rows = session.execute(select(QueryLogEntry.at, case((QueryLogEntry.hits == 0, 1), else_=0))
                           .where(QueryLogEntry.at >= since, QueryLogEntry.at <= until))
    for at, zero in rows:
        bucket = counts.setdefault(at.astimezone(zone).date(), [0, 0])
        bucket[0] += 1
        bucket[1] += zero
    first, last = since.astimezone(zone).date(), until.astimezone(zone).date()
    days = []
    day = first
    while day <= last:
        searches, zero_hits = counts.get(day, (0, 0))
        days.append(DayCount(day, searches, zero_hits))
        day += dt.timedelta(days=1)
    return days


__all__ = ["Asker", "DayCount", "FEW_HITS", "MAX_RANK", "QueryCount", "SQLITE_LOG_WAIT_MS", "add_search", "askers",
           "few_hit_queries", "impatient_connection", "normalise_query", "oldest_entry_at", "prune", "record_open",
           "record_search", "searches_per_day", "unopened_queries", "zero_hit_queries"]

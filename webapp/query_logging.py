"""The web side of the query log: log a search for the signed-in user, sign the reference a page
uses to report an opened hit, and prune old rows about once a day.

API searches and recommendations need no reference, so they are not written on their request: they queue in
the process and are inserted together, in one short transaction, by the first logged request after
FLUSH_SECONDS (or when BATCH rows wait) and at exit — a read then takes no write lock (issue 15). A crash loses
at most those few seconds of log rows, never a search.

The row holds the user's role and department code only (kb/models/query_log.py). The reference a
page carries is the row id signed with the app's secret, so nobody can mark other people's
searches as opened by counting ids.
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from flask import current_app, g
from itsdangerous import BadSignature, URLSafeSerializer

from kb.services import query_log

_SALT = "kb.query-log.open"
PRUNE_EVERY_SECONDS = 24 * 3600
FLUSH_SECONDS, BATCH = 2.0, 200


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SALT)


def log_search(channel: str, query: str, filters: Mapping[str, Any], hits: int) -> str | None:
    """Log this request's search (never fails); return the signed reference for reporting an open."""
    user = g.get("user")
    if user is None:
        return None
    engine = current_app.extensions["kb"].engine
    entry_id = query_log.record_search(engine, query=query, hits=hits, role=user.role.value, channel=channel,
                                       department_id=user.department_id, filters=filters)
    _prune_when_due(engine)
    return None if entry_id is None else _serializer().dumps(entry_id)


def log_search_later(channel: str, query: str, filters: Mapping[str, Any], hits: int) -> None:
    """Queue this request's search for the log (API and recommendations: nothing reports an open for them)."""
    user = g.get("user")
    if user is None:
        return
    queue = _queue()
    queue.add(dict(query=query, hits=hits, role=user.role.value, channel=channel,
                   department_id=user.department_id, filters=dict(filters)))
    if queue.due():
        queue.flush()
        _prune_when_due(queue.engine)


def flush_queued(app) -> int:
    """Write the queued searches of ``app`` now; return how many (tests, shutdown)."""
    queue = app.extensions.get("kb_query_log_queue")
    return queue.flush() if queue else 0


class _Queue:
    """Searches waiting to be logged, written together in one transaction (never fails a request)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.rows: list[dict] = []
        self.lock = threading.Lock()
        self.flushed_at = time.monotonic()
        weakref.finalize(self, _Queue._write, engine, self.rows, self.lock)  # an app never closed: at exit

    def add(self, row: dict) -> None:
        with self.lock:
            self.rows.append(row)

    def due(self) -> bool:
        return len(self.rows) >= BATCH or time.monotonic() - self.flushed_at >= FLUSH_SECONDS

    def flush(self) -> int:
        self.flushed_at = time.monotonic()
        return _Queue._write(self.engine, self.rows, self.lock)

    @staticmethod
    def _write(engine, rows: list[dict], lock: threading.Lock) -> int:
        with lock:
            batch, rows[:] = list(rows), []
        if batch:
            query_log.record_searches(engine, batch)
        return len(batch)


def _queue() -> _Queue:
    queue = current_app.extensions.get("kb_query_log_queue")
    if queue is None:
        state = current_app.extensions["kb"]
        queue = current_app.extensions.setdefault("kb_query_log_queue", _Queue(state.engine))
        state.closing.append(queue.flush)  # written before the app's database pool closes
    return queue


def entry_of(reference: str) -> int | None:
    """The log row id a signed reference stands for (None: forged, damaged or from another secret)."""
    try:
        value = _serializer().loads(reference)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def _prune_when_due(engine) -> None:
    """At most once a day per process: delete rows older than KB_QUERY_LOG_DAYS (errors only warn)."""
    state = current_app.extensions.setdefault("kb_query_log", {"pruned_at": 0.0})
    if state["pruned_at"] and time.monotonic() - state["pruned_at"] < PRUNE_EVERY_SECONDS:
        return
    state["pruned_at"] = time.monotonic()
    days = int(current_app.config.get("KB_QUERY_LOG_DAYS") or 0)
    try:
        with query_log.impatient_connection(engine) as connection:
            removed = query_log.prune(connection, days)
        if removed:
            current_app.logger.info("检索日志：已删除 %s 条超过 %s 天的记录", removed, days)
    except Exception as error:  # noqa: BLE001 - housekeeping must never break a search
        current_app.logger.warning("检索日志清理失败（检索不受影响）：%s", error)

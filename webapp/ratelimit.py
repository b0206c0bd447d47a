"""Per-user request rate limits (issue 14 item 12): searches per minute.

Counted in this process's memory: a limit is about one person hammering one server, needs no
database write (reads must not take SQLite's write lock) and forgets everything at restart. With
several gunicorn workers each keeps its own count, so a user gets at most ``workers ×`` the limit.
"""
from __future__ import annotations

import threading
from collections import defaultdict, deque
from time import monotonic

from flask import Flask, current_app, request

# Endpoints that run a search; the home page (search.index) counts only when it carries a query.
SEARCH_ENDPOINTS = frozenset({"search.index", "api.search", "api.recommend"})
WINDOW_SECONDS = 60.0


class SlidingWindow:
    """At most ``limit`` events per key in any ``WINDOW_SECONDS``; thread-safe."""

    def __init__(self) -> None:
        self._events: dict[object, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: object, limit: int) -> float | None:
        """Record an event; ``None`` if allowed, else the seconds until the next one would be."""
        now = monotonic()
        with self._lock:
            events = self._events[key]
            while events and now - events[0] >= WINDOW_SECONDS:
                events.popleft()
            if len(events) >= limit:
                return WINDOW_SECONDS - (now - events[0])
            events.append(now)
            return None


def is_search_request() -> bool:
    if request.endpoint not in SEARCH_ENDPOINTS:
        return False
    return request.endpoint != "search.index" or bool(request.args.get("q", "").strip())


def check_search_rate(user):
    """Called once the user is known (``webapp.permissions.enforce``): 429 past the per-user limit."""
    limit = int(current_app.config.get("SEARCH_RATE_PER_MINUTE") or 0)
    if limit <= 0 or user is None or not is_search_request():
        return None
    wait = current_app.extensions["search_rate"].hit(user.id, limit)
    if wait is None:
        return None
    from webapp.errors import render_error

    response = current_app.make_response(render_error(
        429, f"检索过于频繁：每人每分钟最多检索 {limit} 次，请稍等 {int(wait) + 1} 秒后再试。"))
    response.headers["Retry-After"] = str(int(wait) + 1)
    return response


def init_app(app: Flask) -> None:
    app.extensions["search_rate"] = SlidingWindow()

"""The query log (检索日志): one row per search, so finance can see what officers look for and miss.

Privacy by construction: a row holds the normalised query, its filters, the hit count, the channel,
the searcher's role and department code, and the rank of the first result opened or copied. It
holds no user id, no address, no session: a row cannot be traced to a person (docs/security.md).
Rows older than ``KB_QUERY_LOG_DAYS`` are pruned.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kb.models.base import Base, UTCDateTime, intpk, utcnow

#: Where a search came from: the search page, ``/api/v1/search``, ``/api/v1/recommend``.
CHANNELS = ("page", "api", "recommend")
#: Longest stored query text (pasted project descriptions are cut; the report groups by this text).
QUERY_LENGTH = 200


class QueryLogEntry(Base):
    """One search: what was asked, how many hits, and which result (by rank, 1 = first) was opened first."""

    __tablename__ = "query_log"

    id: Mapped[intpk]
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    query: Mapped[str] = mapped_column(String(QUERY_LENGTH), index=True)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    hits: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20))
    department: Mapped[str | None] = mapped_column(String(32))  # department code; None for finance etc.
    channel: Mapped[str] = mapped_column(String(16))
    opened_rank: Mapped[int | None] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"<QueryLogEntry {self.id} {self.channel} {self.query!r} hits={self.hits}>"


__all__ = ["CHANNELS", "QUERY_LENGTH", "QueryLogEntry"]

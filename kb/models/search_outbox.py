"""The search-index outbox: keys of indicators whose search document must be rewritten.

Rows are inserted in the same database transaction as the change itself, so a change can never
reach the database without also being queued for the index (REL-4, security.md). They are deleted
only after the index has committed the new documents; whatever a crash leaves behind is applied at
the next commit or start-up.
"""
from __future__ import annotations


from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kb.models.base import Base, created_at, intpk


class SearchOutbox(Base):
    """One pending index update (``key`` = indicator code; the current database row decides upsert or delete)."""

    __tablename__ = "search_outbox"

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[created_at]

    def __repr__(self) -> str:
        return f"<SearchOutbox {self.id} {self.key}>"


__all__ = ["SearchOutbox"]

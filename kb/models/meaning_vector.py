"""Sentence vectors of indicator texts, kept by digest so that a rebuild or another process never encodes the
same text twice (encoding is the slow part of indexing: tens of milliseconds per indicator on a CPU)."""
from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kb.models.base import Base


class MeaningVector(Base):
    """``digest``: SHA-1 of the model name and the passage text (search/meaning.py); ``vector``: packed vector.
    Rows are never changed, only added: a changed text has another digest."""

    __tablename__ = "meaning_vectors"

    digest: Mapped[str] = mapped_column(String(40), primary_key=True)
    vector: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<MeaningVector {self.digest}>"


__all__ = ["MeaningVector"]

"""检索同义词组: the synonym groups search expands at query time, maintained by finance in the web UI.

``kb/indicators/synonyms.yaml`` is the seed (loaded while the table is empty) and the exported form
(``kb synonyms export``); the database is the live source. Groups are never deleted: a retired group
keeps its terms, its reason and its history. ``row_version`` is the optimistic lock (two people
editing one group never silently overwrite each other) and, summed over the table with the row count,
the "synonyms generation" every process compares to notice a change cheaply.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kb.models.base import Base, created_at, intpk, text_list, timestamp


class SynonymGroup(Base):
    """One group of equivalent terms (``[满意度, 满意率, 满意程度]``), in the order finance wrote them."""

    __tablename__ = "synonym_groups"

    id: Mapped[intpk]
    terms: Mapped[text_list]
    # The section of the YAML file (``指标常用度量词``, ``卫生健康``…), kept so the export reads like the seed.
    category: Mapped[str] = mapped_column(String(50), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    retired_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[timestamp]
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    # Optimistic locking: an UPDATE that does not match the version read raises StaleDataError.
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": row_version}

    @property
    def label(self) -> str:
        """How a person names the group: its terms joined with 、."""
        return "、".join(self.terms)

    def touch(self, username: str, when: dt.datetime) -> None:
        """Record who changed the group and when."""
        self.updated_by, self.updated_at = username[:64], when


class RejectedGuess(Base):
    """An expansion the engine guessed (通用同义词库, 词义相近, 字面相近, 含该字的词: search.planner.GUESSED) that
    finance turned down: search no longer relates the typed word ``source`` to the library word ``term``.
    Never deleted: allowing the guess again clears ``active`` and keeps who rejected it and why."""

    __tablename__ = "rejected_guesses"
    __table_args__ = (UniqueConstraint("source", "term"),)

    id: Mapped[intpk]
    source: Mapped[str] = mapped_column(String(50))  # normalised, as search.planner compares them
    term: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[timestamp]
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": row_version}

    @property
    def label(self) -> str:
        return f"{self.source}→{self.term}"

    def touch(self, username: str, when: dt.datetime) -> None:
        self.updated_by, self.updated_at = username[:64], when

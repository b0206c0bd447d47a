"""检索同义词组 and 不是同义词: what finance maintains in the web UI to steer query expansion.

Synonym groups: ``kb/indicators/synonyms.yaml`` is the seed (loaded while the table is empty) and the exported
form (``kb synonyms export``); the database is the live source. Rejected guesses: expansions the engine guessed
that finance turned down. Neither is ever deleted: a retired group keeps its terms, its reason and its history,
a rejection allowed again keeps who made it and why. Row count and summed ``row_version`` of both tables are the
"synonyms generation" every process compares to notice a change cheaply.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from kb.models.base import Base, created_at, intpk, text_list, timestamp


class _KeptByFinance:
    """A row finance maintains in the web UI: switched off rather than deleted (its history stays), who changed it
    last, and ``row_version``, the optimistic lock (two people editing one row never silently overwrite each other)
    whose sum over a table is part of the generation every process compares (kb/live_synonyms.py)."""

    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[timestamp]
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    # An UPDATE that does not match the version read raises StaleDataError.
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.row_version}

    def touch(self, username: str, when: dt.datetime) -> None:
        """Record who changed the row and when."""
        self.updated_by, self.updated_at = username[:64], when


class SynonymGroup(_KeptByFinance, Base):
    """One group of equivalent terms (``[满意度, 满意率, 满意程度]``), in the order finance wrote them."""

    __tablename__ = "synonym_groups"

    id: Mapped[intpk]
    terms: Mapped[text_list]
    # The section of the YAML file (``指标常用度量词``, ``卫生健康``…), kept so the export reads like the seed.
    category: Mapped[str] = mapped_column(String(50), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    retired_reason: Mapped[str] = mapped_column(String(500), default="")

    @property
    def label(self) -> str:
        """How a person names the group: its terms joined with 、."""
        return "、".join(self.terms)


class RejectedGuess(_KeptByFinance, Base):
    """An expansion the engine guessed (通用同义词库, 词义相近, 字面相近, 含该字的词: search.planner.GUESSED) that
    finance turned down: search no longer relates the typed word ``source`` to the library word ``term``.
    Never deleted: allowing the guess again clears ``active`` and keeps who rejected it and why."""

    __tablename__ = "rejected_guesses"
    __table_args__ = (UniqueConstraint("source", "term"),)

    id: Mapped[intpk]
    source: Mapped[str] = mapped_column(String(50))  # normalised, as search.planner compares them
    term: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(String(500), default="")

    @property
    def label(self) -> str:
        return f"{self.source}→{self.term}"

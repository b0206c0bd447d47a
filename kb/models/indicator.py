"""Indicators (三级指标) and the documents they are based on (指标来源)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.models.base import Base, code_str, created_at, intpk, name_str, short_str, str_enum, text_list, timestamp
from kb.vocab import BasisKind, IndicatorState, Nature

if TYPE_CHECKING:
    from kb.models.department import Department


class Indicator(Base):
    """A library indicator. ``department`` is None for a common indicator (共性指标, owned by finance)."""

    __tablename__ = "indicators"

    id: Mapped[intpk]
    code: Mapped[code_str] = mapped_column(unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[name_str]
    level1: Mapped[short_str]
    level2: Mapped[short_str]
    nature: Mapped[Nature] = mapped_column(str_enum(Nature))
    operator: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(50), default="")
    definition: Mapped[str] = mapped_column(Text, default="")
    formula: Mapped[str] = mapped_column(Text, default="")
    data_source: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    remarks: Mapped[str] = mapped_column(Text, default="")
    projects: Mapped[text_list]
    keywords: Mapped[text_list]
    state: Mapped[IndicatorState] = mapped_column(str_enum(IndicatorState), default=IndicatorState.ACTIVE)
    created_at: Mapped[created_at]
    updated_at: Mapped[timestamp]
    retired_at: Mapped[timestamp]
    # Optimistic locking: an UPDATE that does not match the version read raises StaleDataError.
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    department: Mapped[Department | None] = relationship(back_populates="indicators")
    basis: Mapped[list[IndicatorBasis]] = relationship(
        back_populates="indicator",
        order_by="IndicatorBasis.position",
        cascade="all, delete-orphan",
    )

    __mapper_args__ = {"version_id_col": row_version}

    @property
    def is_common(self) -> bool:
        """共性指标: owned by finance, available to every department."""
        return self.department_id is None

    @property
    def is_active(self) -> bool:
        return self.state == IndicatorState.ACTIVE

    def __repr__(self) -> str:
        return f"<Indicator {self.code} {self.name}>"


class IndicatorBasis(Base):
    """One source of an indicator or its target value (政策文件, 行业标准, 历史标准…)."""

    __tablename__ = "indicator_basis"

    id: Mapped[intpk]
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[BasisKind] = mapped_column(str_enum(BasisKind))
    title: Mapped[str] = mapped_column(String(500))
    doc_no: Mapped[str] = mapped_column(String(200), default="")

    indicator: Mapped[Indicator] = relationship(back_populates="basis")

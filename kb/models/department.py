"""Budget departments (预算部门) and their indicator sets (一个部门一套指标)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.models.base import Base, code_str, created_at, intpk, name_str, str_enum, text_list, timestamp
from kb.vocab import SetStatus

if TYPE_CHECKING:
    from kb.models.indicator import Indicator
    from kb.models.user import User


class Department(Base):
    """A budget unit: a 主管部门 or one of its 所属单位 (``parent``)."""

    __tablename__ = "departments"

    id: Mapped[intpk]
    code: Mapped[code_str] = mapped_column(unique=True)
    name: Mapped[name_str]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    pilot: Mapped[bool] = mapped_column(Boolean, default=False)
    functions: Mapped[text_list]
    created_at: Mapped[created_at]

    parent: Mapped[Department | None] = relationship(remote_side="Department.id", back_populates="children")
    children: Mapped[list[Department]] = relationship(back_populates="parent", order_by="Department.code")
    indicator_sets: Mapped[list[IndicatorSet]] = relationship(
        back_populates="department", order_by="IndicatorSet.version"
    )
    indicators: Mapped[list[Indicator]] = relationship(
        back_populates="department", order_by="Indicator.position"
    )

    @property
    def parent_code(self) -> str | None:
        return self.parent.code if self.parent else None

    @property
    def current_set(self) -> IndicatorSet | None:
        return next((s for s in self.indicator_sets if s.is_current), None)

    def __repr__(self) -> str:
        return f"<Department {self.code} {self.name}>"


class IndicatorSet(Base):
    """One version of a department's indicator set and where it stands in the review workflow.

    The department's live indicators are the content of its current set; when a version is
    certified its content is frozen into ``frozen_indicators`` so published versions stay
    readable after the next year's draft starts changing the live entries.
    """

    __tablename__ = "indicator_sets"
    __table_args__ = (
        UniqueConstraint("department_id", "version", name="uq_indicator_sets_department_version"),
    )

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[SetStatus] = mapped_column(str_enum(SetStatus), default=SetStatus.DRAFT)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    frozen_indicators: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[created_at]
    submitted_at: Mapped[timestamp]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_confirmed_at: Mapped[timestamp]
    department_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    finance_confirmed_at: Mapped[timestamp]
    finance_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    certified_at: Mapped[timestamp]
    certified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    superseded_at: Mapped[timestamp]
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    department: Mapped[Department] = relationship(back_populates="indicator_sets")
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    department_confirmed_by: Mapped[User | None] = relationship(foreign_keys=[department_confirmed_by_id])
    finance_confirmed_by: Mapped[User | None] = relationship(foreign_keys=[finance_confirmed_by_id])
    certified_by: Mapped[User | None] = relationship(foreign_keys=[certified_by_id])

    __mapper_args__ = {"version_id_col": row_version}

    def __repr__(self) -> str:
        return f"<IndicatorSet {self.department_id} v{self.version} {self.status}>"


# At most one current set per department (a partial unique index on both SQLite and PostgreSQL).
Index(
    "uq_indicator_sets_one_current",
    IndicatorSet.department_id,
    unique=True,
    sqlite_where=IndicatorSet.is_current.is_(True),
    postgresql_where=IndicatorSet.is_current.is_(True),
)

"""The review workflow (审定流程): expert review requests, comments with answers, library change requests."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.enums import LabelledEnum
from kb.models.base import Base, created_at, intpk, str_enum, timestamp

if TYPE_CHECKING:
    from kb.models.department import Department, IndicatorSet
    from kb.models.user import User


class ReviewStatus(LabelledEnum):
    OPEN = "open", "评审中"
    CLOSED = "closed", "已结束"


class ReviewDecision(LabelledEnum):
    CERTIFY = "certify", "同意审定"
    RETURN = "return", "退回修改"


class CommentKind(LabelledEnum):
    """What a reviewer says about one indicator (accept/revise/remove) or the whole set."""

    ACCEPT = "accept", "同意"
    REVISE = "revise", "建议修改"
    REMOVE = "remove", "建议删除"
    GENERAL = "general", "整体意见"
    RETURN = "return", "退回理由"

    @property
    def needs_answer(self) -> bool:
        return self is not CommentKind.ACCEPT


class ChangeKind(LabelledEnum):
    """入库 (add a common indicator), 修改 (change one), 出库 (retire one)."""

    ADD = "add", "入库申请"
    MODIFY = "modify", "修改申请"
    RETIRE = "retire", "出库申请"


class ChangeStatus(LabelledEnum):
    PENDING = "pending", "待财政处理"
    ACCEPTED = "accepted", "已采纳"
    DECLINED = "declined", "未采纳"
    WITHDRAWN = "withdrawn", "已撤回"


class ReviewRequest(Base):
    """Finance asks experts to review one indicator set by a due date (专家审定)."""

    __tablename__ = "review_requests"

    id: Mapped[intpk]
    set_id: Mapped[int] = mapped_column(ForeignKey("indicator_sets.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[created_at]
    due_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ReviewStatus] = mapped_column(str_enum(ReviewStatus), default=ReviewStatus.OPEN)
    closed_at: Mapped[timestamp]

    indicator_set: Mapped[IndicatorSet] = relationship()
    requested_by: Mapped[User | None] = relationship()
    assignments: Mapped[list[ReviewAssignment]] = relationship(
        back_populates="request", order_by="ReviewAssignment.id", cascade="all, delete-orphan"
    )

    def is_overdue(self, today: dt.date) -> bool:
        return self.status == ReviewStatus.OPEN and today > self.due_on


class ReviewAssignment(Base):
    """One expert on a review request and what that expert decided."""

    __tablename__ = "review_assignments"
    __table_args__ = (UniqueConstraint("request_id", "expert_id", name="uq_review_assignments_request_expert"),)

    id: Mapped[intpk]
    request_id: Mapped[int] = mapped_column(ForeignKey("review_requests.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    decision: Mapped[ReviewDecision | None] = mapped_column(str_enum(ReviewDecision))
    decided_at: Mapped[timestamp]

    request: Mapped[ReviewRequest] = relationship(back_populates="assignments")
    expert: Mapped[User] = relationship()


class ReviewComment(Base):
    """A reviewer's comment on one indicator (``indicator_code``) or the whole set, and the answer."""

    __tablename__ = "review_comments"

    id: Mapped[intpk]
    set_id: Mapped[int] = mapped_column(ForeignKey("indicator_sets.id"), index=True)
    indicator_code: Mapped[str | None] = mapped_column(String(32))
    indicator_name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[CommentKind] = mapped_column(str_enum(CommentKind))
    body: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(64))
    author_role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[created_at]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_name: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[timestamp]

    indicator_set: Mapped[IndicatorSet] = relationship()

    @property
    def is_open(self) -> bool:
        return self.kind.needs_answer and self.answer is None


class ChangeRequest(Base):
    """A department's proposal to add, change or retire a common indicator (入库/修改/出库).

    The proposal is staged here and only replaces the live entry when finance accepts it.
    """

    __tablename__ = "change_requests"

    id: Mapped[intpk]
    kind: Mapped[ChangeKind] = mapped_column(str_enum(ChangeKind))
    indicator_code: Mapped[str] = mapped_column(String(32), index=True)
    proposed: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    base_version: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_by_name: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[created_at]
    status: Mapped[ChangeStatus] = mapped_column(str_enum(ChangeStatus), default=ChangeStatus.PENDING)
    decided_by_name: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[timestamp]
    decision_note: Mapped[str] = mapped_column(Text, default="")

    department: Mapped[Department | None] = relationship()

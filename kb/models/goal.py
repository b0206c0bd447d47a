"""Budget projects (预算项目) and their performance goals (绩效目标), with indicator rows and reviews.

A goal row is either a library indicator (``indicator`` set, its code kept so reuse can be counted)
with this project's operator/target/unit, or a custom indicator the department typed, which can be
proposed into the department's indicator set.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.enums import LabelledEnum
from kb.models.base import Base, created_at, intpk, name_str, short_str, str_enum, timestamp

if TYPE_CHECKING:
    from kb.models.department import Department
    from kb.models.indicator import Indicator


class ProjectKind(LabelledEnum):
    NEW = "新增"
    CONTINUING = "延续"


class GoalStatus(LabelledEnum):
    """Where a goal stands in the 部门＋财政＋专家 review; values are tokens, labels are for people."""

    DRAFT = "draft", "部门编制中"
    SUBMITTED = "submitted", "已提交评审"
    RETURNED = "returned", "退回修改"
    APPROVED = "approved", "已审定（冻结）"

    @property
    def is_editable(self) -> bool:
        return self in (GoalStatus.DRAFT, GoalStatus.RETURNED)


class Verdict(LabelledEnum):
    """审核结论 of 财预〔2015〕88号: 优 → 直接进入预算安排 … 差 → 不得进入预算安排."""

    EXCELLENT = "优"
    GOOD = "良"
    FAIR = "中"
    POOR = "差"

    @property
    def meaning(self) -> str:
        return VERDICT_MEANINGS[self]

    @property
    def allows_approval(self) -> bool:
        return self in (Verdict.EXCELLENT, Verdict.GOOD)


VERDICT_MEANINGS = {
    Verdict.EXCELLENT: "直接进入预算安排",
    Verdict.GOOD: "协商完善后进入预算安排",
    Verdict.FAIR: "修改后重新报审",
    Verdict.POOR: "不得进入预算安排",
}


class BudgetProject(Base):
    """A department's budget project for one year (项目基本信息 of the 申报表)."""

    __tablename__ = "budget_projects"

    id: Mapped[intpk]
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[name_str]
    # 万元; a float keeps SQLite and PostgreSQL alike (amounts are entered with at most 4 decimals).
    amount: Mapped[float] = mapped_column(Float, default=0.0)
    fiscal_amount: Mapped[float | None] = mapped_column(Float)
    kind: Mapped[ProjectKind] = mapped_column(str_enum(ProjectKind), default=ProjectKind.NEW)
    category: Mapped[short_str] = mapped_column(default="")
    period: Mapped[str] = mapped_column(String(100), default="")
    implementing_unit: Mapped[str] = mapped_column(String(200), default="")
    contact: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[timestamp]

    department: Mapped[Department] = relationship()
    goal: Mapped[PerformanceGoal | None] = relationship(back_populates="project", uselist=False)

    def __repr__(self) -> str:
        return f"<BudgetProject {self.year} {self.name}>"


class PerformanceGoal(Base):
    """The performance goal of one project: objectives, indicator rows, review state."""

    __tablename__ = "performance_goals"

    id: Mapped[intpk]
    project_id: Mapped[int] = mapped_column(ForeignKey("budget_projects.id"), unique=True)
    long_term_objective: Mapped[str] = mapped_column(Text, default="")  # 总体（实施期）目标
    annual_objective: Mapped[str] = mapped_column(Text, default="")  # 年度目标
    status: Mapped[GoalStatus] = mapped_column(str_enum(GoalStatus), default=GoalStatus.DRAFT, index=True)
    review_round: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[timestamp]
    submitted_at: Mapped[timestamp]
    submitted_by: Mapped[str] = mapped_column(String(64), default="")
    returned_at: Mapped[timestamp]
    approved_at: Mapped[timestamp]
    approved_by: Mapped[str] = mapped_column(String(64), default="")
    # The whole goal as approved (project, objectives, rows, reviews): what was agreed stays readable.
    frozen: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    project: Mapped[BudgetProject] = relationship(back_populates="goal")
    rows: Mapped[list[GoalRow]] = relationship(
        back_populates="goal", order_by="GoalRow.position", cascade="all, delete-orphan"
    )
    reviews: Mapped[list[GoalReview]] = relationship(
        back_populates="goal", order_by="GoalReview.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": row_version}

    @property
    def department(self) -> Department:
        return self.project.department

    @property
    def current_reviews(self) -> list[GoalReview]:
        """Reviews made since the goal was last submitted."""
        return [review for review in self.reviews if review.round == self.review_round]

    def __repr__(self) -> str:
        return f"<PerformanceGoal {self.project_id} {self.status}>"


class GoalRow(Base):
    """One 三级指标 of a goal: a library indicator with this project's value, or a custom one."""

    __tablename__ = "goal_rows"

    id: Mapped[intpk]
    goal_id: Mapped[int] = mapped_column(ForeignKey("performance_goals.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicators.id"), index=True)
    indicator_code: Mapped[str] = mapped_column(String(32), default="", index=True)
    name: Mapped[name_str]
    level1: Mapped[short_str]
    level2: Mapped[short_str]
    nature: Mapped[str] = mapped_column(String(8), default="定量")
    operator: Mapped[str] = mapped_column(String(8), default="≥")
    target: Mapped[str] = mapped_column(String(200), default="")
    unit: Mapped[str] = mapped_column(String(50), default="")
    definition: Mapped[str] = mapped_column(Text, default="")
    formula: Mapped[str] = mapped_column(Text, default="")
    basis_note: Mapped[str] = mapped_column(String(500), default="")  # 指标值设定依据
    remarks: Mapped[str] = mapped_column(String(500), default="")
    proposed: Mapped[bool] = mapped_column(Boolean, default=False)  # custom row proposed into the set

    goal: Mapped[PerformanceGoal] = relationship(back_populates="rows")
    indicator: Mapped[Indicator | None] = relationship()
    comments: Mapped[list[GoalRowComment]] = relationship(
        back_populates="row", order_by="GoalRowComment.id", cascade="all, delete-orphan"
    )

    @property
    def is_custom(self) -> bool:
        return self.indicator_id is None


class GoalReview(Base):
    """One reviewer's verdict (优/良/中/差) on a submitted goal, with comments per row."""

    __tablename__ = "goal_reviews"

    id: Mapped[intpk]
    goal_id: Mapped[int] = mapped_column(ForeignKey("performance_goals.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    reviewer: Mapped[str] = mapped_column(String(64))
    reviewer_role: Mapped[str] = mapped_column(String(20))
    verdict: Mapped[Verdict] = mapped_column(str_enum(Verdict))
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created_at]

    goal: Mapped[PerformanceGoal] = relationship(back_populates="reviews")
    row_comments: Mapped[list[GoalRowComment]] = relationship(back_populates="review")


class GoalRowComment(Base):
    """A reviewer's comment on one row (审核意见 per indicator)."""

    __tablename__ = "goal_row_comments"

    id: Mapped[intpk]
    row_id: Mapped[int] = mapped_column(ForeignKey("goal_rows.id", ondelete="CASCADE"), index=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("goal_reviews.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created_at]

    row: Mapped[GoalRow] = relationship(back_populates="comments")
    review: Mapped[GoalReview | None] = relationship(back_populates="row_comments")

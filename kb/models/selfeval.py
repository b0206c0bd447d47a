"""Year-end self-evaluations (项目支出绩效自评) and finance's spot checks of them (抽查复核).

A self-evaluation belongs to a department, a year and a project *name*: the 自评表 names the project,
and most of a county's 1,000+ tables are for projects whose goals were never drafted in the library,
so ``project_id`` links a budget project only when one of that department, year and name exists.
Each row keeps the indicator code (when known), the target and the actual value, which is what gives
every indicator its observed range (``kb.services.indicator_values``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.enums import LabelledEnum
from kb.models.base import Base, created_at, intpk, name_str, short_str, str_enum, timestamp

if TYPE_CHECKING:
    from kb.models.department import Department
    from kb.models.goal import BudgetProject


class ProblemCategory(LabelledEnum):
    """Problems a spot check finds (domain file §3)."""

    FORM = "规范性", "规范性（表格不完整、格式不对）"
    ACCURACY = "准确性", "准确性（评分不符合规则、数值与佐证不符）"
    EVIDENCE = "佐证不足", "佐证不足（实际完成值没有佐证材料）"
    LOW_TARGET = "目标偏低", "目标偏低（指标值明显定得过低）"
    OTHER = "其他", "其他"


class SampleReason(LabelledEnum):
    RANDOM = "random", "随机抽取"
    RED_LIGHT = "red", "监控红灯预警"


class SelfEvaluation(Base):
    """One project's 自评表 for one year: execution, total score and grade, with its indicator rows."""

    __tablename__ = "self_evaluations"
    __table_args__ = (UniqueConstraint("year", "department_id", "project_name", name="project"),)

    id: Mapped[intpk]
    year: Mapped[int] = mapped_column(Integer, index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("budget_projects.id"), index=True)
    project_name: Mapped[name_str]
    implementing_unit: Mapped[str] = mapped_column(String(200), default="")
    # 万元, floats as in budget_projects (entered with at most 4 decimals).
    initial_budget: Mapped[float | None] = mapped_column(Float)
    budget: Mapped[float] = mapped_column(Float)
    executed: Mapped[float] = mapped_column(Float)
    execution_rate: Mapped[float] = mapped_column(Float)  # per cent
    execution_score: Mapped[float] = mapped_column(Float)
    expected_objective: Mapped[str] = mapped_column(Text, default="")  # 年度总体目标：预期目标
    achieved_objective: Mapped[str] = mapped_column(Text, default="")  # 实际完成情况
    total: Mapped[float] = mapped_column(Float)
    grade: Mapped[str] = mapped_column(String(4))
    rules_version: Mapped[short_str] = mapped_column(default="")
    source_file: Mapped[str] = mapped_column(String(255), default="")
    submitted_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[timestamp]

    department: Mapped[Department] = relationship()
    project: Mapped[BudgetProject | None] = relationship()
    rows: Mapped[list[SelfEvaluationRow]] = relationship(
        back_populates="evaluation", order_by="SelfEvaluationRow.position", cascade="all, delete-orphan"
    )
    spot_check: Mapped[SpotCheck | None] = relationship(back_populates="evaluation", uselist=False,
                                                        cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<SelfEvaluation {self.year} {self.project_name} {self.total}>"


class SelfEvaluationRow(Base):
    """One indicator of a 自评表: target and actual as written and as numbers, weight, score."""

    __tablename__ = "self_evaluation_rows"

    id: Mapped[intpk]
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("self_evaluations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    indicator_code: Mapped[str] = mapped_column(String(32), default="", index=True)
    name: Mapped[name_str]
    level1: Mapped[short_str]
    level2: Mapped[short_str] = mapped_column(default="")
    nature: Mapped[str] = mapped_column(String(8), default="定量")
    operator: Mapped[str] = mapped_column(String(8), default="")
    target: Mapped[str] = mapped_column(String(200), default="")  # as written: ≥500人
    target_value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(50), default="")
    actual: Mapped[str] = mapped_column(String(200), default="")
    actual_value: Mapped[float | None] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    met: Mapped[bool] = mapped_column(Boolean, default=True)
    explanation: Mapped[str] = mapped_column(Text, default="")

    evaluation: Mapped[SelfEvaluation] = relationship(back_populates="rows")


class SpotCheckDraw(Base):
    """A sample drawn by finance: the percentage, the seed (so the draw can be repeated) and who drew it."""

    __tablename__ = "spot_check_draws"

    id: Mapped[intpk]
    year: Mapped[int] = mapped_column(Integer, index=True)
    percentage: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(Integer)
    drawn_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[created_at]

    checks: Mapped[list[SpotCheck]] = relationship(back_populates="draw", order_by="SpotCheck.id")


class SpotCheck(Base):
    """One sampled self-evaluation: why it was drawn, the re-checked scores and the problems found."""

    __tablename__ = "spot_checks"

    id: Mapped[intpk]
    draw_id: Mapped[int] = mapped_column(ForeignKey("spot_check_draws.id"), index=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("self_evaluations.id", ondelete="CASCADE"), unique=True)
    reason: Mapped[SampleReason] = mapped_column(str_enum(SampleReason))
    # Re-checked score per row where it differs: {"row id": score}.
    row_scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rechecked_total: Mapped[float | None] = mapped_column(Float)
    rechecked_grade: Mapped[str] = mapped_column(String(4), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    checked_by: Mapped[str] = mapped_column(String(64), default="")
    checked_at: Mapped[timestamp]

    draw: Mapped[SpotCheckDraw] = relationship(back_populates="checks")
    evaluation: Mapped[SelfEvaluation] = relationship(back_populates="spot_check")
    problems: Mapped[list[SpotCheckProblem]] = relationship(
        back_populates="spot_check", order_by="SpotCheckProblem.id", cascade="all, delete-orphan"
    )

    @property
    def is_done(self) -> bool:
        return self.checked_at is not None


class SpotCheckProblem(Base):
    """A problem found by the re-checker, by category (and the row, when it is about one)."""

    __tablename__ = "spot_check_problems"

    id: Mapped[intpk]
    spot_check_id: Mapped[int] = mapped_column(ForeignKey("spot_checks.id", ondelete="CASCADE"), index=True)
    category: Mapped[ProblemCategory] = mapped_column(str_enum(ProblemCategory))
    row_id: Mapped[int | None] = mapped_column(ForeignKey("self_evaluation_rows.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(Text, default="")

    spot_check: Mapped[SpotCheck] = relationship(back_populates="problems")

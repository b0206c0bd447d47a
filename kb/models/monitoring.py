"""运行监控: monitoring rounds, one entry per monitored project, one per goal indicator of it.

A round is opened by finance with a cut-off date and a scope (projects of at least ``min_amount``
万元 of the cut-off year, or the projects warned in an earlier round). Opening copies the light
rules in force into the round (``rules``, ``rules_version``), so a light computed later still follows
the rules the round was opened under, and snapshots each goal row's operator and target, so an
indicator's light does not move when a goal is edited afterwards.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.enums import LabelledEnum
from kb.models.base import Base, created_at, intpk, name_str, short_str, str_enum, timestamp

if TYPE_CHECKING:
    from kb.models.department import Department
    from kb.models.goal import BudgetProject, GoalRow


class Light(LabelledEnum):
    """A warning light; values are the API tokens (CONTRACT §7)."""

    GREEN = "green", "绿灯"
    YELLOW = "yellow", "黄灯"
    RED = "red", "红灯"

    @property
    def severity(self) -> int:
        return LIGHT_SEVERITY[self]

    @property
    def is_warning(self) -> bool:
        return self is not Light.GREEN


LIGHT_SEVERITY = {Light.GREEN: 0, Light.YELLOW: 1, Light.RED: 2}


class RoundStatus(LabelledEnum):
    OPEN = "open", "填报中"
    CLOSED = "closed", "已结束"


class RoundScope(LabelledEnum):
    AMOUNT = "amount", "金额门槛"
    WARNED = "warned", "上轮预警项目"


class Outlook(LabelledEnum):
    """完成目标可能性 of the national 监控表 (财预〔2019〕136号), stated for 定性 indicators."""

    CERTAIN = "确定能"
    POSSIBLE = "有可能"
    IMPOSSIBLE = "完全不可能"


class MonitoringRuleVersion(Base):
    """One saved version of the light rules (finance's change, audited); none saved: the YAML defaults."""

    __tablename__ = "monitoring_rule_versions"

    id: Mapped[intpk]
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[created_at]


class MonitoringRound(Base):
    """A monitoring round (e.g. 2024 年 1—7 月监控), its scope and the rules it was opened under."""

    __tablename__ = "monitoring_rounds"

    id: Mapped[intpk]
    name: Mapped[name_str]
    year: Mapped[int] = mapped_column(Integer, index=True)
    cut_off: Mapped[dt.date] = mapped_column(Date)
    scope: Mapped[RoundScope] = mapped_column(str_enum(RoundScope), default=RoundScope.AMOUNT)
    min_amount: Mapped[float | None] = mapped_column(Float)  # 万元, for the amount scope
    source_round_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_rounds.id"))
    status: Mapped[RoundStatus] = mapped_column(str_enum(RoundStatus), default=RoundStatus.OPEN, index=True)
    rules_version: Mapped[int] = mapped_column(Integer, default=0)  # 0: the YAML defaults
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[created_at]
    closed_by: Mapped[str] = mapped_column(String(64), default="")
    closed_at: Mapped[timestamp]

    source_round: Mapped[MonitoringRound | None] = relationship(remote_side="MonitoringRound.id")
    entries: Mapped[list[MonitoringEntry]] = relationship(
        back_populates="round", order_by="MonitoringEntry.id", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.status == RoundStatus.OPEN

    def __repr__(self) -> str:
        return f"<MonitoringRound {self.id} {self.name}>"


class MonitoringEntry(Base):
    """One project in one round: budget executed to date and the two lights."""

    __tablename__ = "monitoring_entries"
    __table_args__ = (UniqueConstraint("round_id", "project_id", name="uq_monitoring_entries_round_project"),)

    id: Mapped[intpk]
    round_id: Mapped[int] = mapped_column(ForeignKey("monitoring_rounds.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("budget_projects.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    budget: Mapped[float] = mapped_column(Float, default=0.0)  # 全年（调整后）预算数，万元
    executed: Mapped[float | None] = mapped_column(Float)  # 截至监控时点的执行数，万元
    budget_light: Mapped[Light | None] = mapped_column(str_enum(Light))
    goal_light: Mapped[Light | None] = mapped_column(str_enum(Light))
    filled_by: Mapped[str] = mapped_column(String(64), default="")
    filled_at: Mapped[timestamp]

    round: Mapped[MonitoringRound] = relationship(back_populates="entries")
    project: Mapped[BudgetProject] = relationship()
    department: Mapped[Department] = relationship()
    indicators: Mapped[list[MonitoringIndicator]] = relationship(
        back_populates="entry", order_by="MonitoringIndicator.position", cascade="all, delete-orphan"
    )

    @property
    def is_warned(self) -> bool:
        return any(light is not None and light.is_warning for light in (self.budget_light, self.goal_light))


class MonitoringIndicator(Base):
    """One goal indicator of a monitored project: value to date, expected full-year value, light."""

    __tablename__ = "monitoring_indicators"

    id: Mapped[intpk]
    entry_id: Mapped[int] = mapped_column(ForeignKey("monitoring_entries.id", ondelete="CASCADE"), index=True)
    goal_row_id: Mapped[int | None] = mapped_column(ForeignKey("goal_rows.id", ondelete="SET NULL"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    indicator_code: Mapped[str] = mapped_column(String(32), default="")
    name: Mapped[name_str]
    level1: Mapped[short_str] = mapped_column(default="")
    nature: Mapped[str] = mapped_column(String(8), default="定量")
    operator: Mapped[str] = mapped_column(String(8), default="≥")
    target: Mapped[str] = mapped_column(String(200), default="")
    unit: Mapped[str] = mapped_column(String(50), default="")
    value_to_date: Mapped[str] = mapped_column(String(200), default="")  # 截至监控时点完成值
    expected: Mapped[str] = mapped_column(String(200), default="")  # 全年预计完成值（定量）
    outlook: Mapped[Outlook | None] = mapped_column(str_enum(Outlook))  # 完成目标可能性（定性）
    completion: Mapped[float | None] = mapped_column(Float)  # expected completion, 1.0 = 100 %
    light: Mapped[Light | None] = mapped_column(str_enum(Light))
    deviation_reason: Mapped[str] = mapped_column(Text, default="")
    corrective_measure: Mapped[str] = mapped_column(Text, default="")

    entry: Mapped[MonitoringEntry] = relationship(back_populates="indicators")
    goal_row: Mapped[GoalRow | None] = relationship()

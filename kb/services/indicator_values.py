"""Values flowing back (指标值客观准确): every target and actual value of an indicator, by year, project
and department, and the 取值范围 they suggest.

Targets come from performance goals (goal rows linked to the indicator), targets and actuals from
self-evaluations. The same project in another year is matched by department and project name with any
leading year (``2025年…``) removed, because each year's budget project is a new row.
TODO(issue 13 part A): add the expected full-year values of monitoring rounds as observations.
"""
from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import BudgetProject, Department, GoalRow, Indicator, PerformanceGoal
from kb.models.selfeval import SelfEvaluation, SelfEvaluationRow
from kb.quality import parse_number
from kb.vocab import BasisKind

TARGET, ACTUAL = "target", "actual"
_YEAR_PREFIX = re.compile(r"^\s*(19|20)\d{2}\s*年度?\s*")
STANDARD_KINDS = (BasisKind.INDUSTRY, BasisKind.POLICY)


def project_key(name: str) -> str:
    """A project's name without its leading year: ``2025年基本公共卫生服务项目`` → ``基本公共卫生服务项目``."""
    return _YEAR_PREFIX.sub("", name or "").strip()


@dataclass(frozen=True)
class Observation:
    year: int
    project: str
    department: str
    kind: str  # target | actual
    value: float
    unit: str
    source: str  # 绩效目标 | 绩效自评


@dataclass
class ValueRange:
    """The proposed 取值范围: the middle half of observed actuals (or every actual when there are few)."""

    low: float
    high: float
    count: int
    minimum: float
    maximum: float


@dataclass
class IndicatorValues:
    observations: list[Observation] = field(default_factory=list)

    @property
    def actuals(self) -> list[Observation]:
        return [o for o in self.observations if o.kind == ACTUAL]

    @property
    def targets(self) -> list[Observation]:
        return [o for o in self.observations if o.kind == TARGET]

    @property
    def unit(self) -> str:
        """The unit the actuals were reported in (the most common one)."""
        units = [o.unit for o in self.actuals if o.unit]
        return max(set(units), key=units.count) if units else ""

    @property
    def proposed_range(self) -> ValueRange | None:
        return value_range([o.value for o in self.actuals])

    def by_year(self) -> list[dict[str, Any]]:
        """Per year: mean target, mean actual and counts (what the chart draws)."""
        years = sorted({o.year for o in self.observations})
        rows = []
        for year in years:
            targets = [o.value for o in self.targets if o.year == year]
            actuals = [o.value for o in self.actuals if o.year == year]
            rows.append({"year": year, "target": statistics.fmean(targets) if targets else None,
                         "actual": statistics.fmean(actuals) if actuals else None,
                         "targets": len(targets), "actuals": len(actuals)})
        return rows


    def chart(self, width: int = 600, height: int = 200) -> dict[str, Any] | None:
        """Coordinates for a server-side SVG: the proposed range as a band, every actual as a dot,
        the mean target and mean actual per year as lines (x: years, y: values, top = highest)."""
        if not self.observations:
            return None
        years = [row["year"] for row in self.by_year()]
        observed = self.proposed_range
        values = [o.value for o in self.observations] + ([observed.low, observed.high] if observed else [])
        low, high = min(values), max(values)
        pad = (high - low) * 0.1 or abs(high) * 0.1 or 1
        low, high = low - pad, high + pad
        step = width / len(years)

        def x(year: int) -> float:
            return round(step * years.index(year) + step / 2, 1)

        def y(value: float) -> float:
            return round(height - (value - low) / (high - low) * height, 1)

        def line(key: str) -> str:
            return " ".join(f"{x(r['year'])},{y(r[key])}" for r in self.by_year() if r[key] is not None)

        return {
            "width": width, "height": height,
            "years": [{"year": year, "x": x(year)} for year in years],
            "dots": [{"x": x(o.year), "y": y(o.value), "title": f"{o.year} {o.department} {o.project}：{o.value:g}{o.unit}"}
                     for o in self.actuals],
            "targets": line("target"), "actuals": line("actual"),
            "band": {"y": y(observed.high), "height": round(y(observed.low) - y(observed.high), 1)} if observed else None,
            "axis": [{"y": y(v), "label": f"{v:g}"} for v in (low + pad, high - pad)],
        }


def value_range(values: Iterable[float]) -> ValueRange | None:
    """Middle half (quartiles) of ``values`` with their count; min–max when fewer than 4."""
    values = sorted(values)
    if not values:
        return None
    if len(values) < 4:
        low, high = values[0], values[-1]
    else:
        quartiles = statistics.quantiles(values, n=4, method="inclusive")
        low, high = quartiles[0], quartiles[2]
    return ValueRange(round(low, 4), round(high, 4), len(values), values[0], values[-1])


def indicator_values(session: Session, code: str) -> IndicatorValues:
    """Every observed target and actual of the indicator ``code``."""
    found = IndicatorValues()
    goal_rows = session.execute(
        select(BudgetProject.year, BudgetProject.name, Department.name, GoalRow.target, GoalRow.unit)
        .join(PerformanceGoal, GoalRow.goal_id == PerformanceGoal.id)
        .join(BudgetProject, PerformanceGoal.project_id == BudgetProject.id)
        .join(Department, BudgetProject.department_id == Department.id)
        .where(GoalRow.indicator_code == code))
    for year, project, department, target, unit in goal_rows:
        value = parse_number(target)
        if value is not None:
            found.observations.append(Observation(year, project_key(project), department, TARGET, value, unit, "绩效目标"))
    evaluated = session.execute(
        select(SelfEvaluation.year, SelfEvaluation.project_name, Department.name, SelfEvaluationRow.target_value,
               SelfEvaluationRow.actual_value, SelfEvaluationRow.unit)
        .join(SelfEvaluation, SelfEvaluationRow.evaluation_id == SelfEvaluation.id)
        .join(Department, SelfEvaluation.department_id == Department.id)
        .where(SelfEvaluationRow.indicator_code == code))
    for year, project, department, target, actual, unit in evaluated:
        if target is not None:
            found.observations.append(Observation(year, project_key(project), department, TARGET, target, unit, "绩效自评"))
        if actual is not None:
            found.observations.append(Observation(year, project_key(project), department, ACTUAL, actual, unit, "绩效自评"))
    found.observations.sort(key=lambda o: (o.year, o.department, o.project, o.kind))
    return found


def standards(indicator: Indicator) -> list[str]:
    """行业标准 and policy values recorded on the indicator (its basis), shown beside the proposed range."""
    return [f"{b.kind.value}：{b.title}{'（' + b.doc_no + '）' if b.doc_no else ''}"
            for b in indicator.basis if b.kind in STANDARD_KINDS]


@dataclass(frozen=True)
class History:
    """What the goal checker needs about one indicator for one project."""

    last_actual: float | None
    last_year: int | None
    range: ValueRange | None
    ever_reached_100: bool

    def as_check(self) -> dict[str, Any]:
        """The plain form ``kb.quality.check_goal`` reads."""
        observed = self.range
        return {"last_actual": self.last_actual, "last_year": self.last_year, "ever_reached_100": self.ever_reached_100,
                "low": observed.low if observed else None, "high": observed.high if observed else None,
                "maximum": observed.maximum if observed else None, "count": observed.count if observed else 0}


def history_for_goal(session: Session, department_code: str, project_name: str, year: int | None,
                     codes: Iterable[str]) -> dict[str, History]:
    """Per indicator code: this project's latest actual before ``year`` and the county-wide range."""
    codes = {code for code in codes if code}
    if not codes:
        return {}
    key = project_key(project_name)
    rows = session.execute(
        select(SelfEvaluationRow.indicator_code, SelfEvaluationRow.actual_value, SelfEvaluation.year,
               SelfEvaluation.project_name, Department.code)
        .join(SelfEvaluation, SelfEvaluationRow.evaluation_id == SelfEvaluation.id)
        .join(Department, SelfEvaluation.department_id == Department.id)
        .where(SelfEvaluationRow.indicator_code.in_(codes), SelfEvaluationRow.actual_value.is_not(None)))
    values: dict[str, list[float]] = {}
    latest: dict[str, tuple[int, float]] = {}
    for code, actual, evaluated_year, project, department in rows:
        values.setdefault(code, []).append(actual)
        same = department == department_code and project_key(project) == key and (year is None or evaluated_year < year)
        if same and (code not in latest or evaluated_year > latest[code][0]):
            latest[code] = (evaluated_year, actual)
    return {code: History(latest.get(code, (None, None))[1], latest.get(code, (None, None))[0],
                          value_range(values[code]), max(values[code]) >= 100) for code in values}


def history_of_draft(session: Session, draft: Mapping[str, Any]) -> dict[str, History]:
    """:func:`history_for_goal` for a goal in its plain form (``project.department.code``, ``year``, ``name``)."""
    project = draft.get("project") or {}
    department = (project.get("department") or {}).get("code") if isinstance(project.get("department"), Mapping) else None
    if not department:
        return {}
    codes = [row.get("code") or "" for row in draft.get("rows") or []]
    year = project.get("year")
    return history_for_goal(session, department, project.get("name") or "", int(year) if year else None, codes)

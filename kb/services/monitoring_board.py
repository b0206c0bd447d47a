"""The monitoring board: light counts by department and by light, 整体监控 (a department's projects
summed), warning rates and their change between rounds, the chart and the 监控表 export.

Warning rate = projects with the light in that colour ÷ projects monitored. A follow-up round
monitors only the warned projects of its source, so its rates are measured against the population
of the round it follows (the report's 493 projects in both July and November): that is how
“预算执行红灯预警率下降 32%” compares 186 and 126 red lights. The change is (r₁ − r₂) ÷ r₁.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.models import MonitoringEntry, MonitoringRound
from kb.models.monitoring import Light, RoundScope
from kb.services.monitoring import round_entries, round_rules
from kb.services.monitoring_lights import HUNDRED, budget_light, exact, percent_text, time_progress
from kb.spreadsheets.values import neutralize

KINDS = (("budget", "预算执行"), ("goal", "目标完成"))
WARNING_COLOURS = (Light.RED, Light.YELLOW)
FILLS = {Light.RED: "F8D7DA", Light.YELLOW: "FFF3CD", Light.GREEN: "D4EDDA"}


@dataclass
class DepartmentRow:
    """整体监控 of one department: its projects summed, and its light counts."""

    department_id: int
    code: str
    name: str
    projects: int = 0
    filled: int = 0
    budget: Fraction = Fraction(0)
    executed: Fraction = Fraction(0)
    counts: dict[tuple[str, Light], int] = field(default_factory=dict)
    rate: Fraction | None = None
    light: Light | None = None  # the department's budget light from its summed figures

    def count(self, kind: str, light: Light) -> int:
        return self.counts.get((kind, light), 0)


@dataclass
class RoundBoard:
    round: MonitoringRound
    entries: list[MonitoringEntry]
    departments: list[DepartmentRow]
    counts: dict[tuple[str, Light], int]
    base: int  # the population warning rates are measured against

    @property
    def monitored(self) -> int:
        return len(self.entries)

    @property
    def filled(self) -> int:
        return sum(1 for entry in self.entries if entry.filled_at is not None)

    def count(self, kind: str, light: Light) -> int:
        return self.counts.get((kind, light), 0)

    def rate(self, kind: str, light: Light) -> Fraction | None:
        return Fraction(self.count(kind, light), self.base) if self.base else None


def rate_base(session: Session, monitoring_round: MonitoringRound, department_id: int | None = None) -> int:
    """Projects monitored in the round a chain of follow-up rounds started from (see the module doc)."""
    origin = monitoring_round
    while origin.scope == RoundScope.WARNED and origin.source_round is not None:
        origin = origin.source_round
    query = select(func.count()).select_from(MonitoringEntry).where(MonitoringEntry.round_id == origin.id)
    if department_id is not None:
        query = query.where(MonitoringEntry.department_id == department_id)
    return session.scalar(query) or 0


def round_board(session: Session, monitoring_round: MonitoringRound, department_id: int | None = None) -> RoundBoard:
    """The board of one round (a department user's: ``department_id``, only its own projects)."""
    entries = round_entries(session, monitoring_round, department_id)
    rules = round_rules(monitoring_round)
    rows: dict[int, DepartmentRow] = {}
    counts: dict[tuple[str, Light], int] = {}
    for entry in entries:
        row = rows.setdefault(entry.department_id, DepartmentRow(entry.department_id, entry.department.code,
                                                                 entry.department.name))
        row.projects += 1
        if entry.executed is not None:
            row.filled += 1
            row.budget += exact(entry.budget)
            row.executed += exact(entry.executed)
        for kind, _ in KINDS:
            light = getattr(entry, f"{kind}_light")
            if light is not None:
                row.counts[(kind, light)] = row.counts.get((kind, light), 0) + 1
                counts[(kind, light)] = counts.get((kind, light), 0) + 1
    for row in rows.values():
        if row.filled:
            result = budget_light(row.budget, row.executed, monitoring_round.cut_off, rules)
            row.rate, row.light = result.rate, result.light
    ordered = sorted(rows.values(), key=lambda row: (-row.count("budget", Light.RED) - row.count("goal", Light.RED),
                                                      row.code))
    return RoundBoard(monitoring_round, entries, ordered, counts, rate_base(session, monitoring_round, department_id))


def previous_round(session: Session, monitoring_round: MonitoringRound) -> MonitoringRound | None:
    """What a round is compared with: the round it follows up, else the latest earlier round of its year."""
    if monitoring_round.source_round is not None:
        return monitoring_round.source_round
    return session.scalar(select(MonitoringRound).where(
        MonitoringRound.year == monitoring_round.year, MonitoringRound.cut_off < monitoring_round.cut_off)
        .order_by(MonitoringRound.cut_off.desc()).limit(1))


@dataclass(frozen=True)
class RateChange:
    kind: str
    kind_label: str
    light: Light
    before_count: int
    after_count: int
    before: Fraction | None
    after: Fraction | None

    @property
    def change(self) -> Fraction | None:
        """(r₁ − r₂) ÷ r₁: positive is a fall (as the report says “下降 32%”)."""
        if self.before is None or self.after is None or self.before == 0:
            return None
        return (self.before - self.after) / self.before

    @property
    def text(self) -> str:
        """“红灯预警率下降 32%” as the report states it."""
        change = self.change
        name = f"{self.kind_label}{self.light.label}预警率"
        if change is None:
            return f"{name}：上一轮为 0，无法比较"
        percent = round(abs(change) * HUNDRED)
        if percent == 0:
            return f"{name}持平"
        return f"{name}{'下降' if change > 0 else '上升'} {percent}%"


def rate_changes(before: RoundBoard, after: RoundBoard) -> list[RateChange]:
    """The change of each warning rate (预算执行/目标完成 × 红灯/黄灯) from ``before`` to ``after``."""
    return [RateChange(kind, label, light, before.count(kind, light), after.count(kind, light),
                       before.rate(kind, light), after.rate(kind, light))
            for kind, label in KINDS for light in WARNING_COLOURS]


def rate_chart(changes: list[RateChange], height: int = 160) -> list[dict]:
    """Grouped bars (earlier, this round) per warning rate for a server-side SVG: heights scaled to the largest."""
    top = max([float(value) for change in changes for value in (change.before, change.after) if value] or [1.0])
    bars = []
    for index, change in enumerate(changes):
        group = []
        for position, (which, value, count) in enumerate((("before", change.before, change.before_count),
                                                           ("after", change.after, change.after_count))):
            h = round(height * float(value or 0) / top, 1)
            group.append({"which": which, "count": count, "percent": percent_text(value, 1), "height": h,
                          "x": 60 + index * 150 + position * 50, "y": round(10 + height - h, 1)})
        bars.append({"label": f"{change.kind_label}{change.light.label}", "light": change.light.value,
                     "bars": group, "text": change.text, "x": 60 + index * 150 + 45})
    return bars


# --- the 监控表 export -------------------------------------------------------------------------

def _safe(value):
    return neutralize(value) if isinstance(value, str) else value


def _append(sheet, values, fills: dict[int, Light | None] | None = None) -> None:
    sheet.append([_safe(value) for value in values])
    for column, light in (fills or {}).items():
        if light is not None:
            sheet.cell(sheet.max_row, column).fill = PatternFill("solid", fgColor=FILLS[light])


def _header(sheet, headers: list[str], widths: list[int]) -> None:
    sheet.append(headers)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = f"C{sheet.max_row + 1}"  # a string: sheet.cell() would create an empty row


def _label(light: Light | None) -> str:
    return light.label if light is not None else "未填报"


def monitoring_workbook(board: RoundBoard, changes: list[RateChange] | None = None) -> bytes:
    """The round's 监控表 as .xlsx: projects, indicators, 整体监控 and (when compared) warning rates."""
    monitoring_round = board.round
    progress = time_progress(monitoring_round.cut_off)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "项目监控表"
    sheet.append([_safe(f"{monitoring_round.name}（截至 {monitoring_round.cut_off:%Y-%m-%d}，时间进度 "
                        f"{percent_text(progress)}）")])
    sheet["A1"].font = Font(bold=True, size=14)
    _header(sheet, ["部门", "项目名称", "全年预算数（万元）", "执行数（万元）", "执行率", "偏差（百分点）", "预算执行",
                    "目标完成", "填报人"], [22, 34, 14, 14, 10, 12, 10, 10, 12])
    rules = round_rules(monitoring_round)
    for entry in board.entries:
        rate = gap = None
        if entry.executed is not None:
            result = budget_light(entry.budget, entry.executed, monitoring_round.cut_off, rules)
            rate, gap = percent_text(result.rate), round(float(result.gap), 2)
        _append(sheet, [entry.department.name, entry.project.name, entry.budget, entry.executed, rate, gap,
                        _label(entry.budget_light), _label(entry.goal_light), entry.filled_by],
                {7: entry.budget_light, 8: entry.goal_light})
    indicators = workbook.create_sheet("绩效指标")
    _header(indicators, ["部门", "项目名称", "一级指标", "三级指标", "年度指标值", "截至监控时点完成值", "全年预计完成值",
                         "完成目标可能性", "预计完成度", "目标完成", "偏差原因", "纠偏措施"],
            [18, 28, 10, 28, 14, 14, 14, 12, 10, 10, 30, 30])
    for entry in board.entries:
        for item in entry.indicators:
            target = item.target if item.operator == "定性" else f"{item.operator}{item.target}{item.unit}"
            _append(indicators, [entry.department.name, entry.project.name, item.level1, item.name, target,
                                 item.value_to_date, item.expected, item.outlook.value if item.outlook else "",
                                 percent_text(item.completion) if item.completion is not None else "",
                                 _label(item.light), item.deviation_reason, item.corrective_measure], {10: item.light})
    whole = workbook.create_sheet("部门整体监控")
    _header(whole, ["部门编码", "部门", "监控项目数", "已填报", "预算合计（万元）", "执行合计（万元）", "执行率", "整体预算执行",
                    "预算红灯", "预算黄灯", "目标红灯", "目标黄灯"], [10, 24, 10, 8, 14, 14, 10, 12, 8, 8, 8, 8])
    for row in board.departments:
        _append(whole, [row.code, row.name, row.projects, row.filled, float(row.budget), float(row.executed),
                        percent_text(row.rate), _label(row.light) if row.filled else "未填报",
                        row.count("budget", Light.RED), row.count("budget", Light.YELLOW),
                        row.count("goal", Light.RED), row.count("goal", Light.YELLOW)], {8: row.light})
    if changes:
        rates = workbook.create_sheet("预警率变化")
        _header(rates, ["预警", "上一轮数量", "本轮数量", "上一轮预警率", "本轮预警率", "变化"], [22, 12, 12, 14, 14, 30])
        for change in changes:
            _append(rates, [f"{change.kind_label}{change.light.label}", change.before_count, change.after_count,
                            percent_text(change.before), percent_text(change.after), change.text])
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()

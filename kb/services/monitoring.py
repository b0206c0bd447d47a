"""运行监控: finance opens a round, departments fill in their projects, finance closes it.

Opening a round picks its projects (amount threshold of the cut-off year, or the projects warned in
an earlier round), copies the light rules in force and snapshots each approved goal's indicators.
Filling in a project records the budget executed to date and, per indicator, the value to date, the
expected full-year value (定量) or the outlook (定性), and for a warned indicator the reason for the
deviation and the corrective measure; both lights are computed at once by the round's rules.

Services take ``session`` first, flush, never commit; every change is audited. The board (counts,
整体监控, warning rates, export) is :mod:`kb.services.monitoring_board`; the Excel import of the budget
system's execution figures is :mod:`kb.services.monitoring_import`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.errors import InvalidTransition, NotFound, PermissionDenied, Problem, ValidationFailed
from kb.models import BudgetProject, MonitoringEntry, MonitoringIndicator, MonitoringRound, PerformanceGoal
from kb.models.base import utcnow
from kb.models.goal import GoalStatus
from kb.models.monitoring import Light, Outlook, RoundScope, RoundStatus
from kb.permissions import can_fill_monitoring, can_manage_monitoring
from kb.services.audit import Actor, record_change
from kb.services.monitoring_lights import budget_light, exact, indicator_light, parse_value, worst
from kb.services.monitoring_rules import LightRules, current_rules, parse_rules

ENTITY = "monitoring_round"


# --- reading -----------------------------------------------------------------------------------

def get_round(session: Session, round_id: int) -> MonitoringRound:
    """The round with ``round_id`` or :class:`NotFound`."""
    monitoring_round = session.get(MonitoringRound, round_id)
    if monitoring_round is None:
        raise NotFound(f"监控轮次 {round_id} 不存在，请从“运行监控”列表重新打开。")
    return monitoring_round


def list_rounds(session: Session) -> list[MonitoringRound]:
    """Every round, the latest cut-off first."""
    return list(session.scalars(select(MonitoringRound).order_by(MonitoringRound.cut_off.desc(),
                                                                 MonitoringRound.id.desc())))


def round_entries(session: Session, monitoring_round: MonitoringRound,
                  department_id: int | None = None) -> list[MonitoringEntry]:
    """The round's project entries (with project, department and indicators), by department then project."""
    query = (select(MonitoringEntry).where(MonitoringEntry.round_id == monitoring_round.id)
             .options(selectinload(MonitoringEntry.project), selectinload(MonitoringEntry.department),
                      selectinload(MonitoringEntry.indicators))
             .order_by(MonitoringEntry.department_id, MonitoringEntry.project_id))
    if department_id is not None:
        query = query.where(MonitoringEntry.department_id == department_id)
    return list(session.scalars(query))


def red_light_project_ids(session: Session, year: int) -> set[int]:
    """Projects whose latest monitoring round of ``year`` gave a red budget or goal light (抽查 takes all)."""
    latest: dict[int, MonitoringEntry] = {}
    entries = session.scalars(
        select(MonitoringEntry).join(MonitoringEntry.round).where(MonitoringRound.year == year)
        .order_by(MonitoringRound.cut_off, MonitoringRound.id))
    for entry in entries:
        latest[entry.project_id] = entry  # a later round replaces an earlier one
    return {project_id for project_id, entry in latest.items() if Light.RED in (entry.budget_light, entry.goal_light)}


def get_entry(session: Session, monitoring_round: MonitoringRound, entry_id: int) -> MonitoringEntry:
    """One project entry of the round, or :class:`NotFound`."""
    entry = session.get(MonitoringEntry, entry_id)
    if entry is None or entry.round_id != monitoring_round.id:
        raise NotFound(f"监控轮次“{monitoring_round.name}”中没有编号为 {entry_id} 的项目。")
    return entry


def round_rules(monitoring_round: MonitoringRound) -> LightRules:
    """The rules the round was opened under."""
    return parse_rules(monitoring_round.rules, f"监控轮次“{monitoring_round.name}”的亮灯规则")


# --- opening and closing -----------------------------------------------------------------------

def _check_opening(name: str, cut_off: dt.date | None, problems: list[Problem]) -> None:
    if not name.strip():
        problems.append(Problem("请填写轮次名称，例如“2024 年 1—7 月绩效运行监控”。", field="name"))
    if cut_off is None:
        problems.append(Problem("请填写监控截止日期，例如 2024-07-31。", field="cut_off"))


def open_round(session: Session, actor: Actor, *, name: str, cut_off: dt.date | None,
               min_amount: float | None = None, source_round_id: int | None = None) -> MonitoringRound:
    """Open a round: projects of ``cut_off``'s year of at least ``min_amount`` 万元 (default: the rules'
    threshold, 50), or — with ``source_round_id`` — the projects warned in that round."""
    if not can_manage_monitoring(actor):
        raise PermissionDenied("只有财政部门可以下达监控任务（开启监控轮次）。")
    problems: list[Problem] = []
    _check_opening(name, cut_off, problems)
    version, rules = current_rules(session)
    source = get_round(session, source_round_id) if source_round_id is not None else None
    if source is not None and cut_off is not None and cut_off <= source.cut_off:
        problems.append(Problem(f"跟踪轮次的截止日期应晚于“{source.name}”的 {source.cut_off:%Y-%m-%d}。",
                                field="cut_off"))
    if source is None and min_amount is not None and min_amount < 0:
        problems.append(Problem("金额门槛不能为负数。", field="min_amount"))
    if problems:
        raise ValidationFailed(problems)
    budgets: dict[int, float] = {}
    if source is not None:
        source_rules = round_rules(source)
        warned = [entry for entry in round_entries(session, source) if _is_warned(entry, source_rules)]
        projects = [entry.project for entry in warned]
        budgets = {entry.project_id: entry.budget for entry in warned}  # the adjusted budget reported last time
        scope, threshold = RoundScope.WARNED, None
    else:
        threshold = float(rules.min_amount) if min_amount is None else float(min_amount)
        projects = list(session.scalars(
            select(BudgetProject).where(BudgetProject.year == cut_off.year, BudgetProject.amount >= threshold)
            .order_by(BudgetProject.department_id, BudgetProject.id)))
        scope = RoundScope.AMOUNT
    if not projects:
        where = f"“{source.name}”中没有预警项目" if source else f"{cut_off.year} 年没有 {threshold:g} 万元及以上的项目"
        raise ValidationFailed([Problem(f"{where}，无法下达监控任务。", field="scope")])
    monitoring_round = MonitoringRound(
        name=name.strip(), year=cut_off.year, cut_off=cut_off, scope=scope, min_amount=threshold,
        source_round_id=source.id if source else None, status=RoundStatus.OPEN, rules_version=version,
        rules=rules.as_dict(), created_by=actor.username)
    session.add(monitoring_round)
    goals = _approved_goals(session, [project.id for project in projects])
    for project in projects:
        monitoring_round.entries.append(_new_entry(project, goals.get(project.id), budgets.get(project.id)))
    session.flush()
    record_change(session, actor, "monitoring.open", ENTITY, str(monitoring_round.id),
                  after={"name": monitoring_round.name, "cut_off": cut_off.isoformat(), "scope": scope.value,
                         "min_amount": threshold, "source_round_id": monitoring_round.source_round_id,
                         "rules_version": version, "projects": len(projects)},
                  summary=f"开启监控轮次“{monitoring_round.name}”（{len(projects)} 个项目）")
    return monitoring_round


def follow_up_round(session: Session, actor: Actor, source: MonitoringRound, *, cut_off: dt.date | None,
                    name: str = "") -> MonitoringRound:
    """One action: a new round for the projects warned in ``source`` (如 1—11 月对 7 月预警项目再监控)."""
    name = name.strip() or (f"{cut_off.year} 年 1—{cut_off.month} 月预警项目跟踪监控" if cut_off else "")
    return open_round(session, actor, name=name, cut_off=cut_off, source_round_id=source.id)


def close_round(session: Session, actor: Actor, monitoring_round: MonitoringRound) -> MonitoringRound:
    """Finance closes the round: nothing more can be filled in."""
    if not can_manage_monitoring(actor):
        raise PermissionDenied("只有财政部门可以结束监控轮次。")
    if not monitoring_round.is_open:
        raise InvalidTransition(f"监控轮次“{monitoring_round.name}”已经结束。")
    unfilled = sum(1 for entry in monitoring_round.entries if entry.filled_at is None)
    monitoring_round.status = RoundStatus.CLOSED
    monitoring_round.closed_at = utcnow()
    monitoring_round.closed_by = actor.username
    session.flush()
    record_change(session, actor, "monitoring.close", ENTITY, str(monitoring_round.id),
                  after={"status": RoundStatus.CLOSED.value, "unfilled": unfilled},
                  summary=f"结束监控轮次“{monitoring_round.name}”" + (f"（{unfilled} 个项目未填报）" if unfilled else ""))
    return monitoring_round


def _is_warned(entry: MonitoringEntry, rules: LightRules) -> bool:
    return entry.budget_light in rules.warning_lights or entry.goal_light in rules.warning_lights


def _approved_goals(session: Session, project_ids: list[int]) -> dict[int, PerformanceGoal]:
    goals = session.scalars(select(PerformanceGoal).where(PerformanceGoal.project_id.in_(project_ids),
                                                          PerformanceGoal.status == GoalStatus.APPROVED)
                            .options(selectinload(PerformanceGoal.rows)))
    return {goal.project_id: goal for goal in goals}


def _new_entry(project: BudgetProject, goal: PerformanceGoal | None, budget: float | None) -> MonitoringEntry:
    # Only an approved goal is monitored: its targets are what was agreed (a draft may still change).
    entry = MonitoringEntry(project=project, department_id=project.department_id,
                            budget=project.amount if budget is None else budget)
    for position, row in enumerate(goal.rows if goal is not None else []):
        entry.indicators.append(MonitoringIndicator(
            goal_row_id=row.id, position=position, indicator_code=row.indicator_code, name=row.name,
            level1=row.level1, nature=row.nature, operator=row.operator, target=row.target, unit=row.unit))
    return entry


# --- filling in --------------------------------------------------------------------------------

@dataclass(frozen=True)
class IndicatorInput:
    """What a department types for one indicator."""

    value_to_date: str = ""
    expected: str = ""
    outlook: str = ""
    deviation_reason: str = ""
    corrective_measure: str = ""

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> IndicatorInput:
        return cls(**{key: str(data.get(key) or "").strip() for key in cls.__dataclass_fields__})


def _amount(text: Any, label: str, field: str, problems: list[Problem], entry: str) -> float | None:
    raw = str(text if text is not None else "").strip()
    value = parse_value(raw) if raw else None
    if value is None:
        wrong = f"“{raw}”不是数字，" if raw else ""
        problems.append(Problem(f"{wrong}请填写{label}（万元，数字）。", entry=entry, field=field))
        return None
    if value < 0:
        problems.append(Problem(f"{label}不能为负数。", entry=entry, field=field))
        return None
    return float(value)


def check_amounts(budget: Any, executed: Any, entry_label: str, problems: list[Problem]) -> tuple[float | None, float | None]:
    """Budget and executed as numbers (万元), with located problems; shared with the Excel import."""
    budget_value = _amount(budget, "全年预算数", "budget", problems, entry_label)
    executed_value = _amount(executed, "执行数", "executed", problems, entry_label)
    if budget_value is not None and executed_value is not None and executed_value > budget_value:
        problems.append(Problem(f"执行数 {executed_value:g} 万元大于全年预算数 {budget_value:g} 万元，请核对。",
                                entry=entry_label, field="executed"))
    return budget_value, executed_value


def fill_entry(session: Session, actor: Actor, entry: MonitoringEntry, *, budget: Any, executed: Any,
               indicators: Mapping[int, Mapping[str, Any]] | None = None) -> MonitoringEntry:
    """Record one project's figures and compute its lights; every problem is reported, nothing half-saved.

    ``indicators`` maps a :class:`MonitoringIndicator` id to its :class:`IndicatorInput` fields; an
    indicator left out keeps what it had.
    """
    monitoring_round = entry.round
    if not can_fill_monitoring(actor, monitoring_round, entry.department_id):
        if not monitoring_round.is_open:
            raise InvalidTransition(f"监控轮次“{monitoring_round.name}”已经结束，不能再填报。")
        raise PermissionDenied("部门用户只能填报本部门的项目。")
    rules = round_rules(monitoring_round)
    problems: list[Problem] = []
    label = f"项目“{entry.project.name}”"
    budget_value, executed_value = check_amounts(budget, executed, label, problems)
    inputs = {key: IndicatorInput.of(value) for key, value in (indicators or {}).items()}
    results = {}
    for indicator in entry.indicators:
        given = inputs.get(indicator.id, _current_input(indicator))
        results[indicator.id] = _check_indicator(indicator, given, rules, label, problems)
    if problems:
        raise ValidationFailed(problems)
    before = entry_state(entry)
    entry.budget, entry.executed = budget_value, executed_value
    for indicator in entry.indicators:
        given, result = results[indicator.id]
        indicator.value_to_date, indicator.expected = given.value_to_date, given.expected
        indicator.outlook = Outlook(given.outlook) if given.outlook else None
        indicator.deviation_reason, indicator.corrective_measure = given.deviation_reason, given.corrective_measure
        indicator.completion = float(result.completion) if result.completion is not None else None
        indicator.light = result.light
    apply_lights(entry, rules)
    entry.filled_by, entry.filled_at = actor.username, utcnow()
    session.flush()
    record_change(session, actor, "monitoring.fill", "monitoring_entry", str(entry.id), before=before,
                  after=entry_state(entry),
                  summary=f"填报监控“{monitoring_round.name}”：{entry.project.name}（预算执行"
                          f"{_light_label(entry.budget_light)}，目标完成{_light_label(entry.goal_light)}）")
    return entry


def apply_lights(entry: MonitoringEntry, rules: LightRules) -> None:
    """Both lights of a project from its figures (indicator lights already set)."""
    entry.budget_light = (budget_light(exact(entry.budget), exact(entry.executed), entry.round.cut_off, rules).light
                          if entry.executed is not None else None)
    entry.goal_light = worst(indicator.light for indicator in entry.indicators)


def _current_input(indicator: MonitoringIndicator) -> IndicatorInput:
    return IndicatorInput(indicator.value_to_date, indicator.expected,
                          indicator.outlook.value if indicator.outlook else "", indicator.deviation_reason,
                          indicator.corrective_measure)


def _check_indicator(indicator: MonitoringIndicator, given: IndicatorInput, rules: LightRules, label: str,
                     problems: list[Problem]):
    where = f"{label}的指标“{indicator.name}”"
    if given.outlook and given.outlook not in Outlook.labels():
        problems.append(Problem("完成目标可能性应为“确定能”“有可能”或“完全不可能”。", entry=where, field="outlook"))
        given = IndicatorInput(given.value_to_date, given.expected, "", given.deviation_reason,
                               given.corrective_measure)
    qualitative = indicator.nature == "定性" or parse_value(indicator.target) is None
    if qualitative and not given.outlook:
        problems.append(Problem("定性指标请选择完成目标可能性（确定能 / 有可能 / 完全不可能）。", entry=where, field="outlook"))
    elif not qualitative and parse_value(given.expected) is None:
        problems.append(Problem(f"请填写全年预计完成值（数字，目标为 {indicator.operator}{indicator.target}{indicator.unit}）。",
                                entry=where, field="expected"))
    result = indicator_light(indicator.nature, indicator.operator, indicator.target, given.expected,
                             given.outlook or None, rules)
    if result.light is not None and result.light.is_warning:
        # The national 监控表 asks for the cause of every deviation and what will be done about it.
        if not given.deviation_reason:
            problems.append(Problem(f"预计{result.light.label}，请填写偏差原因。", entry=where, field="deviation_reason"))
        if not given.corrective_measure:
            problems.append(Problem(f"预计{result.light.label}，请填写纠偏措施。", entry=where, field="corrective_measure"))
    return given, result


def _light_label(light) -> str:
    return light.label if light is not None else "未亮灯"


def entry_state(entry: MonitoringEntry) -> dict[str, Any]:
    """An entry's figures and lights for the audit log."""
    return {
        "budget": entry.budget, "executed": entry.executed,
        "budget_light": entry.budget_light.value if entry.budget_light else None,
        "goal_light": entry.goal_light.value if entry.goal_light else None,
        "indicators": {indicator.name: {"expected": indicator.expected,
                                        "outlook": indicator.outlook.value if indicator.outlook else None,
                                        "light": indicator.light.value if indicator.light else None}
                       for indicator in entry.indicators},
    }

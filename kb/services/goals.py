"""目标申报: budget projects and their performance goals — create, draft, reuse library indicators
(one by one or as a typical bundle), usage counts. Review workflow: ``kb.services.goal_reviews``.

Services take ``session`` first, flush, never commit; every change is audited. Quality findings
(``kb.quality``) never block saving a draft; errors among them block submission.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb import quality, vocab
from kb.errors import EditConflict, InvalidTransition, NotFound, PermissionDenied, Problem, ValidationFailed
from kb.models import BudgetProject, Department, GoalRow, Indicator, PerformanceGoal
from kb.models.base import utcnow
from kb.models.goal import GoalStatus, ProjectKind
from kb import permissions
from kb.permissions import can_edit_goal
from kb.services.audit import Actor, record_change
from kb.selfeval import value_checks
from kb.services.indicator_values import history_of_draft
from kb.services.indicators import get_indicator

PROJECT_FIELDS = ("name", "amount", "fiscal_amount", "kind", "category", "period", "implementing_unit",
                  "contact", "description")
ROW_FIELDS = ("code", "name", "level1", "level2", "nature", "operator", "target", "unit", "definition",
              "formula", "basis_note", "remarks")
# What a department may change on a row taken from the library: this project's value and notes.
LINKED_EDITABLE = ("operator", "target", "unit", "basis_note", "remarks")
SOURCE = "绩效目标"


# --- reading and permissions ---------------------------------------------------------------

def get_goal(session: Session, goal_id: int) -> PerformanceGoal:
    """The goal with ``goal_id`` (with project, rows and reviews) or :class:`NotFound`."""
    goal = session.scalar(
        select(PerformanceGoal).where(PerformanceGoal.id == goal_id).options(
            selectinload(PerformanceGoal.project).selectinload(BudgetProject.department),
            selectinload(PerformanceGoal.rows).selectinload(GoalRow.comments),
            selectinload(PerformanceGoal.reviews),
        )
    )
    if goal is None:
        raise NotFound(f"绩效目标 {goal_id} 不存在，请从“目标申报”列表重新打开。")
    return goal


def goals_of(session: Session, *, department: Department | None = None, year: int | None = None,
             status: GoalStatus | None = None) -> list[PerformanceGoal]:
    """Goals filtered by department, year and status, newest project first."""
    query = (select(PerformanceGoal).join(PerformanceGoal.project)
             .options(selectinload(PerformanceGoal.project).selectinload(BudgetProject.department),
                      selectinload(PerformanceGoal.rows), selectinload(PerformanceGoal.reviews))
             .order_by(BudgetProject.year.desc(), BudgetProject.department_id, BudgetProject.id))
    if department is not None:
        query = query.where(BudgetProject.department_id == department.id)
    if year is not None:
        query = query.where(BudgetProject.year == year)
    if status is not None:
        query = query.where(PerformanceGoal.status == status)
    return list(session.scalars(query))


def editable_goals(session: Session, actor: Actor) -> list[PerformanceGoal]:
    """The goals ``actor`` can add indicators to right now (for 加入申报 on the indicator page)."""
    department = session.get(Department, actor.department_id) if actor.department_id else None
    own_only = permissions.sees_only_own_department(actor)
    if own_only and department is None:
        return []
    goals = goals_of(session, department=department if own_only else None)
    return [goal for goal in goals if can_edit_goal(actor, goal)]


# --- plain forms ------------------------------------------------------------------------------

def project_to_dict(project: BudgetProject) -> dict[str, Any]:
    return {
        "department": {"code": project.department.code, "name": project.department.name},
        "year": project.year,
        **{field: getattr(project, field) for field in PROJECT_FIELDS},
        "kind": project.kind.value,
    }


def row_to_dict(row: GoalRow) -> dict[str, Any]:
    return {"id": row.id, "code": row.indicator_code, **{f: getattr(row, f) for f in ROW_FIELDS if f != "code"},
            "proposed": row.proposed}


def goal_to_dict(goal: PerformanceGoal) -> dict[str, Any]:
    """The goal in its plain form (what ``kb.quality.check_goal`` and the Excel form read)."""
    return {
        "id": goal.id,
        "status": goal.status.value,
        "project": project_to_dict(goal.project),
        "long_term_objective": goal.long_term_objective,
        "annual_objective": goal.annual_objective,
        "rows": [row_to_dict(row) for row in goal.rows],
        "reviews": [
            {"reviewer": r.reviewer, "role": r.reviewer_role, "verdict": r.verdict.value, "summary": r.summary,
             "round": r.round, "at": r.created_at.isoformat() if r.created_at else None}
            for r in goal.reviews
        ],
    }


def library_reference(session: Session, codes: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Library values (name, unit, operator, target, formula) of ``codes``, for the checker."""
    codes = {code for code in codes if code}
    if not codes:
        return {}
    return {
        i.code: {"name": i.name, "unit": i.unit, "operator": i.operator, "target": i.target,
                 "formula": i.formula, "nature": i.nature.value}
        for i in session.scalars(select(Indicator).where(Indicator.code.in_(codes)))
    }


def check(session: Session, draft: Mapping[str, Any]) -> list[quality.Finding]:
    """Run every quality check on a goal's plain form (saved or not) against the library."""
    codes = [row.get("code") or "" for row in draft.get("rows") or []]
    history = {code: h.as_check() for code, h in history_of_draft(session, draft).items()}
    findings = quality.check_goal(draft, library=library_reference(session, codes))
    return sorted(findings + value_checks.check_history(draft, history), key=quality.finding_order)


# --- creating and saving ------------------------------------------------------------------------

def create_goal(session: Session, actor: Actor, department: Department, year: int,
                data: Mapping[str, Any]) -> PerformanceGoal:
    """Start a project and its (empty) goal for ``department``'s ``year`` budget."""
    if not permissions.can_draft_goal(actor, department):
        raise PermissionDenied("只能为本部门的项目编制绩效目标。")
    project = BudgetProject(department=department, year=int(year))
    _apply_project(project, data)
    goal = PerformanceGoal(project=project, created_by=actor.username,
                           long_term_objective=str(data.get("long_term_objective") or "").strip(),
                           annual_objective=str(data.get("annual_objective") or "").strip())
    session.add_all([project, goal])
    session.flush()
    record_change(session, actor, "create", "goal", str(goal.id), after=goal_to_dict(goal),
                  summary=f"{department.name} {project.year}年 {project.name}")
    return goal


def _apply_project(project: BudgetProject, data: Mapping[str, Any]) -> None:
    problems = []
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 200:
        problems.append(Problem("项目名称不能为空（不超过 200 字），应与部门预算中的项目名称一致。", SOURCE, "项目信息", "name"))
    amounts = {}
    for field, label in (("amount", "资金总额"), ("fiscal_amount", "其中财政拨款")):
        raw = data.get(field)
        if raw in (None, "") and field == "fiscal_amount":
            amounts[field] = None
            continue
        value = quality.parse_number(raw)
        if value is None or value < 0:
            problems.append(Problem(f"{label}应为不小于 0 的数字（单位：万元），现在是“{raw or ''}”。", SOURCE, "项目信息", field))
        amounts[field] = value
    kind = str(data.get("kind") or ProjectKind.NEW.value)
    if kind not in {k.value for k in ProjectKind}:
        problems.append(Problem("项目属性只能是“新增”或“延续”。", SOURCE, "项目信息", "kind"))
    category = str(data.get("category") or "").strip()
    if category and category not in quality.project_categories():
        problems.append(Problem(f"项目类别只能是：{'、'.join(quality.project_categories())}。", SOURCE, "项目信息", "category"))
    if problems:
        raise ValidationFailed(problems)
    project.name, project.kind, project.category = name, ProjectKind(kind), category
    project.amount, project.fiscal_amount = amounts["amount"], amounts["fiscal_amount"]
    for field in ("period", "implementing_unit", "contact", "description"):
        setattr(project, field, str(data.get(field) or "").strip())


def check_goal_version(goal: PerformanceGoal, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != goal.row_version:
        raise EditConflict(entity=f"绩效目标“{goal.project.name}”", expected_version=int(expected_version),
                           current_version=goal.row_version)


def require_editable(actor: Actor, goal: PerformanceGoal) -> None:
    if not can_edit_goal(actor, goal):
        if not goal.status.is_editable:
            raise InvalidTransition(f"绩效目标处于“{goal.status.label}”状态，不能修改；退回修改后才能编辑。")
        raise PermissionDenied("只能修改本部门的绩效目标。")


def touch_goal(goal: PerformanceGoal) -> None:
    goal.updated_at = utcnow()  # also bumps row_version, so concurrent edits of rows are detected


def save_goal(session: Session, actor: Actor, goal: PerformanceGoal, data: Mapping[str, Any],
              expected_version: int | None = None) -> PerformanceGoal:
    """Replace the project, objectives and rows with ``data`` (the plain form; rows in order).

    Rows with an ``id`` keep their reviewer comments; rows with a library ``code`` take name and
    classification from the library and only this project's value and notes from ``data``.
    """
    require_editable(actor, goal)
    check_goal_version(goal, expected_version)
    before = goal_to_dict(goal)
    if "project" in data:
        _apply_project(goal.project, {**project_to_dict(goal.project), **data["project"]})
        goal.project.updated_at = utcnow()
    for field in ("long_term_objective", "annual_objective"):
        if field in data:
            setattr(goal, field, str(data[field] or "").strip())
    if "rows" in data:
        _replace_rows(session, goal, list(data["rows"]))
    touch_goal(goal)
    session.flush()
    record_change(session, actor, "update", "goal", str(goal.id), before=before, after=goal_to_dict(goal),
                  summary=goal.project.name)
    return goal


def _replace_rows(session: Session, goal: PerformanceGoal, rows: list[Mapping[str, Any]]) -> None:
    existing = {row.id: row for row in goal.rows}
    library = {i.code: i for i in session.scalars(
        select(Indicator).where(Indicator.code.in_({str(r.get("code") or "") for r in rows} - {""})))}
    problems: list[Problem] = []
    kept: list[GoalRow] = []
    for number, data in enumerate(rows, start=1):
        row = existing.get(_int(data.get("id"))) or GoalRow()
        code = str(data.get("code") or "").strip()
        if code and code not in library:
            problems.append(Problem(f"指标库中没有编码 {code}，请重新从推荐或检索中加入。", SOURCE, f"第 {number} 行", "code"))
            continue
        if code:
            _fill_from_library(row, library[code])
            values = {field: data.get(field, getattr(row, field)) for field in LINKED_EDITABLE}
        else:
            row.indicator, row.indicator_code = None, ""
            values = {field: data.get(field) for field in ROW_FIELDS if field != "code"}
        problems += _apply_row(row, values, number)
        kept.append(row)
    if problems:
        raise ValidationFailed(problems)
    goal.rows[:] = kept
    for position, row in enumerate(kept):
        row.position = position


def _fill_from_library(row: GoalRow, indicator: Indicator) -> None:
    if row.indicator_code != indicator.code:  # newly linked: start from the library's value
        row.operator, row.target, row.unit = indicator.operator, indicator.target, indicator.unit
        row.basis_note = "；".join(b.kind.value + "：" + b.title for b in indicator.basis)[:500]
    row.indicator, row.indicator_code = indicator, indicator.code
    row.name, row.level1, row.level2 = indicator.name, indicator.level1, indicator.level2
    row.nature, row.definition, row.formula = indicator.nature.value, indicator.definition, indicator.formula


def _apply_row(row: GoalRow, values: Mapping[str, Any], number: int) -> list[Problem]:
    entry = f"第 {number} 行"
    text = {key: str(value or "").strip() for key, value in values.items()}
    problems = []
    if "name" in text:
        if not text["name"]:
            problems.append(Problem("三级指标名称不能为空。", SOURCE, entry, "name"))
        taxonomy = vocab.taxonomy()
        level1, level2 = taxonomy.normalize(text.get("level1", ""), text.get("level2", ""))
        if not taxonomy.is_valid(level1, level2):
            problems.append(Problem(f"一级/二级指标“{level1}/{level2}”不在分类体系中，请从下拉中选择。", SOURCE, entry, "level2"))
        nature = text.get("nature") or vocab.Nature.QUANTITATIVE.value
        if nature not in {n.value for n in vocab.Nature}:
            problems.append(Problem("指标性质只能是“定量”或“定性”。", SOURCE, entry, "nature"))
        text.update(level1=level1, level2=level2, nature=nature)
    nature = text.get("nature", row.nature)
    operator = vocab.canonical_operator(text.get("operator", row.operator) or "")
    if nature == vocab.Nature.QUALITATIVE:
        operator = vocab.QUALITATIVE_OPERATOR
    elif operator not in vocab.OPERATORS:
        problems.append(Problem(f"指标方向只能是 {' '.join(vocab.OPERATORS)}。", SOURCE, entry, "operator"))
    if "unit" in text:
        text["unit"] = vocab.units().canonical(text["unit"])
    for field, limit in (("name", 200), ("target", 200), ("unit", 50), ("basis_note", 500), ("remarks", 500)):
        if len(text.get(field, "")) > limit:
            problems.append(Problem(f"内容过长（不超过 {limit} 字）。", SOURCE, entry, field))
    if not problems:
        for field, value in text.items():
            setattr(row, field, value)
        row.operator = operator
    return problems


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def add_indicators(session: Session, actor: Actor, goal: PerformanceGoal, codes: Iterable[str],
                   expected_version: int | None = None) -> list[GoalRow]:
    """Append library indicators (with their reference values); codes already in the goal are skipped."""
    require_editable(actor, goal)
    check_goal_version(goal, expected_version)
    present = {row.indicator_code for row in goal.rows}
    added = []
    for code in dict.fromkeys(code.strip() for code in codes if code and code.strip()):
        if code in present:
            continue
        indicator = get_indicator(session, code)
        if not indicator.is_active:
            raise InvalidTransition(f"指标 {code}“{indicator.name}”已出库，不能再引用，请选用其他指标。")
        row = GoalRow(position=len(goal.rows))
        _fill_from_library(row, indicator)
        goal.rows.append(row)
        added.append(row)
        present.add(code)
    if added:
        touch_goal(goal)
        session.flush()
        record_change(session, actor, "add_indicators", "goal", str(goal.id),
                      after={"codes": [row.indicator_code for row in added]}, summary=goal.project.name)
    return added


@dataclass(frozen=True)
class Bundle:
    """A typical indicator bundle: one department's (or the common) indicators serving one project type."""

    project_type: str
    codes: tuple[str, ...]
    department_code: str | None

    @property
    def key(self) -> str:
        """What a form posts to pick this bundle: the same project type may exist in several departments."""
        return f"{self.department_code or ''}|{self.project_type}"


def typical_bundles(session: Session, department: Department | None = None) -> list[Bundle]:
    """Known project types (the indicators' ``projects``) of ``department`` (None: all) with their codes.

    Grouped by department and project type: an indicator copied into another department with its
    适用项目 forms that department's bundle, never joins (or relabels) the source department's.
    """
    query = select(Indicator).where(Indicator.state == vocab.IndicatorState.ACTIVE).order_by(
        Indicator.department_id, Indicator.position, Indicator.code).options(selectinload(Indicator.department))
    if department is not None:
        query = query.where(Indicator.department_id == department.id)
    bundles: dict[tuple[str | None, str], dict[str, None]] = {}
    for indicator in session.scalars(query):
        owner = indicator.department.code if indicator.department else None
        for project_type in indicator.projects:
            bundles.setdefault((owner, project_type), {})[indicator.code] = None
    return [Bundle(name, tuple(codes), owner) for (owner, name), codes in bundles.items()]


def add_bundle(session: Session, actor: Actor, goal: PerformanceGoal, project_type: str,
               expected_version: int | None = None) -> list[GoalRow]:
    """Take every indicator of a typical bundle in one step.

    ``project_type`` is a :attr:`Bundle.key` (``部门编码|项目类型``) or a bare project type, which
    takes the goal's own department's bundle first, then the common one, then any.
    """
    owner, _, name = project_type.rpartition("|") if "|" in project_type else (None, "", project_type)
    candidates = [b for b in typical_bundles(session) if b.project_type == name]
    if owner is not None:
        candidates = [b for b in candidates if (b.department_code or "") == owner]
    own = goal.project.department.code
    candidates.sort(key=lambda b: (b.department_code != own, b.department_code is not None))
    if not candidates:
        raise NotFound(f"没有名为“{name}”的典型指标组合，请从下拉列表中选择。")
    existing = {row.indicator_code for row in goal.rows if row.indicator_code}
    return add_indicators(session, actor, goal, [c for c in candidates[0].codes if c not in existing],
                          expected_version)


def propose_row(session: Session, actor: Actor, goal: PerformanceGoal, row_id: int, proposed: bool = True) -> GoalRow:
    """Mark a custom row as proposed for the department's indicator set (finance decides later)."""
    require_editable(actor, goal)
    row = next((row for row in goal.rows if row.id == row_id), None)
    if row is None:
        raise NotFound("该指标行不存在，请刷新页面。")
    if not row.is_custom:
        raise InvalidTransition("该指标已在指标库中，无需建议入库。")
    row.proposed = proposed
    touch_goal(goal)
    session.flush()
    record_change(session, actor, "propose" if proposed else "unpropose", "goal_row", str(row.id),
                  after={"name": row.name, "goal": goal.id}, summary=f"建议入库：{row.name}")
    return row

"""自评: storing scored 自评表 — one uploaded by a department, or a county's thousand in one import.

Validate everything, then write everything: :func:`plan_import` reads and scores every file and
collects every problem (file, sheet, row, column); :func:`apply_import` writes a clean plan in the
caller's transaction (flush only). A self-evaluation is keyed by year, department and project name:
importing the same table again replaces it. Any problem in any file: nothing is written.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from kb import permissions
from kb.errors import ImportFailed, NotFound, PermissionDenied, Problem, ValidationFailed
from kb.models import BudgetProject, Department, GoalRow, Indicator, PerformanceGoal
from kb.models.base import utcnow
from kb.models.selfeval import SelfEvaluation, SelfEvaluationRow
from kb.selfeval.scoring import ExecutionScore, ScoreResult, parse_amount
from kb.services.audit import Actor, record_change
from kb.spreadsheets.selfeval_reader import SelfEvaluationSheet, read_selfeval, score_sheet
from kb.spreadsheets.values import parse_target, squeeze

SOURCE = "自评表"


@dataclass
class PlannedEvaluation:
    """One file read and scored, with the department it belongs to (None until resolved)."""

    filename: str
    sheet: SelfEvaluationSheet
    result: ScoreResult
    department: Department | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def key(self) -> tuple[int | None, int | None, str]:
        return (self.sheet.year, self.department.id if self.department else None, self.sheet.project)

    def summary(self) -> dict[str, Any]:
        return {"file": self.filename, "project": self.sheet.project, "year": self.sheet.year,
                "department": self.department.name if self.department else self.sheet.department,
                "total": self.result.total, "grade": self.result.grade, "problems": [str(p) for p in self.problems]}


@dataclass
class ImportPlan:
    items: list[PlannedEvaluation]

    @property
    def problems(self) -> list[Problem]:
        return [problem for item in self.items for problem in item.problems]


def _located(filename: str, problem: Problem) -> Problem:
    source = f"{filename}：{problem.source}" if problem.source and problem.source != filename else filename
    return Problem(problem.message, source, problem.entry, problem.field)


def read_file(content: bytes, filename: str) -> PlannedEvaluation:
    """Read and score one file (no database); unreadable files become a plan item with one problem."""
    try:
        sheet = read_selfeval(content, filename)
    except ValidationFailed as error:
        empty = SelfEvaluationSheet(filename, "")
        return PlannedEvaluation(filename, empty, ScoreResult(ExecutionScore(None, None), [], None, None),
                                 problems=[_located(filename, p) for p in error.problems])
    result, problems = score_sheet(sheet)
    return PlannedEvaluation(filename, sheet, result, problems=[_located(filename, p) for p in problems])


def department_lookup(session: Session) -> dict[str, Department]:
    """Departments by code and by name (a 自评表 names its 主管部门 either way)."""
    departments = session.scalars(select(Department)).all()
    return {**{d.name: d for d in departments}, **{d.code: d for d in departments}}


def plan_import(session: Session, actor: Actor, files: Iterable[tuple[str, bytes]],
                progress: Callable[[int], None] | None = None) -> ImportPlan:
    """Read, score and check every file; raise nothing — the plan lists every problem."""
    lookup = department_lookup(session)
    items, seen = [], {}
    for filename, content in files:
        item = read_file(content, filename)
        if item.sheet.department:
            item.department = lookup.get(squeeze(item.sheet.department)) or lookup.get(item.sheet.department)
            if item.department is None:
                item.problems.append(Problem(f"主管部门“{item.sheet.department}”不在部门名录中，请填写部门全称或预算编码。",
                                             f"{filename}：{item.sheet.sheet}", "表头", "主管部门"))
            elif not permissions.can_submit_selfeval(actor, item.department.id):
                item.problems.append(Problem("只能提交本部门的自评表。", f"{filename}：{item.sheet.sheet}", "表头", "主管部门"))
        if item.department is not None and item.sheet.project and item.key in seen:
            item.problems.append(Problem(f"与文件 {seen[item.key]} 是同一项目同一年度的自评表，请只保留一份。", filename))
        seen.setdefault(item.key, filename)
        items.append(item)
        if progress:
            progress(1)
    return ImportPlan(items)


def import_selfevaluations(session: Session, actor: Actor, files: Iterable[tuple[str, bytes]], *,
                           dry_run: bool = False, progress: Callable[[int], None] | None = None) -> ImportPlan:
    """All or nothing: raise :class:`ImportFailed` with every problem, else write (unless ``dry_run``)."""
    plan = plan_import(session, actor, files, progress)
    if plan.problems:
        raise ImportFailed(plan.problems)
    if not dry_run:
        apply_import(session, actor, plan)
    return plan


def apply_import(session: Session, actor: Actor, plan: ImportPlan) -> list[SelfEvaluation]:
    """Write a clean plan (insert, or replace the same year/department/project), in one flush."""
    if not plan.items:
        return []
    existing = _existing(session, plan)
    projects = _projects(session, plan)
    codes = _code_lookup(session, plan, projects)
    saved = []
    for item in plan.items:
        evaluation = existing.get(item.key)
        if evaluation is None:
            evaluation = SelfEvaluation(year=item.sheet.year, department=item.department, project_name=item.sheet.project)
            session.add(evaluation)
        else:
            evaluation.rows.clear()
            evaluation.spot_check = None  # a new table is checked afresh
            evaluation.updated_at = utcnow()
        _fill(evaluation, item, projects.get(item.key), codes, actor)
        saved.append(evaluation)
    record_change(session, actor, "import", "self_evaluation", str(plan.items[0].sheet.year),
                  summary=f"导入自评表 {len(saved)} 份：" + "、".join(i.sheet.project for i in plan.items[:5])
                  + ("等" if len(saved) > 5 else ""))
    session.flush()
    return saved


def _existing(session: Session, plan: ImportPlan) -> dict[tuple, SelfEvaluation]:
    years = {item.sheet.year for item in plan.items}
    query = (select(SelfEvaluation).where(SelfEvaluation.year.in_(years))
             .options(selectinload(SelfEvaluation.rows), selectinload(SelfEvaluation.spot_check)))
    return {(e.year, e.department_id, e.project_name): e for e in session.scalars(query)}


def _projects(session: Session, plan: ImportPlan) -> dict[tuple, BudgetProject]:
    years = {item.sheet.year for item in plan.items}
    query = select(BudgetProject).where(BudgetProject.year.in_(years))
    return {(p.year, p.department_id, p.name): p for p in session.scalars(query)}


def _code_lookup(session: Session, plan: ImportPlan, projects: Mapping[tuple, BudgetProject]) -> dict:
    """Indicator codes by (project id, row name) from goals, and by (department id or None, name) from the library."""
    codes: dict[tuple, str] = {}
    project_ids = [p.id for p in projects.values()]
    if project_ids:
        rows = session.execute(select(PerformanceGoal.project_id, GoalRow.name, GoalRow.indicator_code)
                               .join(GoalRow.goal).where(PerformanceGoal.project_id.in_(project_ids)))
        codes.update({("project", pid, name): code for pid, name, code in rows if code})
    department_ids = {item.department.id for item in plan.items if item.department}
    library = session.execute(select(Indicator.department_id, Indicator.name, Indicator.code).where(
        or_(Indicator.department_id.in_(department_ids), Indicator.department_id.is_(None))))
    for department_id, name, code in library:
        codes.setdefault(("library", department_id, name), code)
    codes["known"] = {code for code in session.scalars(select(Indicator.code))}  # type: ignore[assignment]
    return codes


def _fill(evaluation: SelfEvaluation, item: PlannedEvaluation, project: BudgetProject | None, codes, actor) -> None:
    sheet, result = item.sheet, item.result
    money = {label: _number(text) for label, text in sheet.money.items()}
    evaluation.project = project
    evaluation.implementing_unit = sheet.implementing_unit
    evaluation.initial_budget = money.get("年初预算数")
    evaluation.budget = money["全年预算数"]
    evaluation.executed = money["全年执行数"]
    evaluation.execution_rate = result.execution.rate
    evaluation.execution_score = result.execution.score
    evaluation.expected_objective = sheet.expected_objective
    evaluation.achieved_objective = sheet.achieved_objective
    evaluation.total, evaluation.grade = result.total, result.grade
    evaluation.rules_version = result.rules_version
    evaluation.source_file = item.filename[:255]
    evaluation.submitted_by = actor.username
    for position, (row, scored) in enumerate(zip(sheet.rows, result.rows)):
        target, actual = parse_target(scored.target), parse_target(scored.actual)
        evaluation.rows.append(SelfEvaluationRow(
            position=position, indicator_code=_code_for(row.cells, project, item.department, codes),
            name=scored.name, level1=scored.level1, level2=row.cells.get("level2", ""), nature=scored.nature,
            operator=target.operator if target.is_number else "定性", target=scored.target[:200],
            target_value=float(target.number) if target.is_number else None, unit=target.unit or actual.unit,
            actual=scored.actual[:200], actual_value=float(actual.number) if actual.is_number else None,
            weight=scored.weight, score=scored.score, met=bool(scored.met),
            explanation=row.cells.get("explanation", ""),
        ))


def _number(text: str) -> float | None:
    value = parse_amount(text)
    return float(value) if value is not None else None


def _code_for(cells: Mapping[str, str], project, department, codes) -> str:
    code = squeeze(cells.get("code", ""))
    if code and code in codes["known"]:
        return code
    name = cells.get("name", "")
    if project is not None and ("project", project.id, name) in codes:
        return codes[("project", project.id, name)]
    return codes.get(("library", department.id if department else None, name)) or codes.get(("library", None, name), "")


# --- reading ---------------------------------------------------------------------------------

def evaluations_of(session: Session, *, year: int | None = None, department_id: int | None = None) -> list[SelfEvaluation]:
    """Self-evaluations by year and department, by department code then project name."""
    query = (select(SelfEvaluation).join(SelfEvaluation.department)
             .options(selectinload(SelfEvaluation.department), selectinload(SelfEvaluation.spot_check))
             .order_by(SelfEvaluation.year.desc(), Department.code, SelfEvaluation.project_name))
    if year is not None:
        query = query.where(SelfEvaluation.year == year)
    if department_id is not None:
        query = query.where(SelfEvaluation.department_id == department_id)
    return list(session.scalars(query))


def get_evaluation(session: Session, actor: Actor, evaluation_id: int) -> SelfEvaluation:
    """The self-evaluation (NotFound) if ``actor`` may read it (PermissionDenied)."""
    evaluation = session.get(SelfEvaluation, evaluation_id)
    if evaluation is None:
        raise NotFound(f"自评表 {evaluation_id} 不存在，请从自评列表重新打开。")
    if not permissions.can_view_selfeval(actor, evaluation.department_id):
        raise PermissionDenied("只能查看本部门的自评表。")
    return evaluation


def evaluation_years(session: Session) -> list[int]:
    return sorted(set(session.scalars(select(SelfEvaluation.year).distinct())), reverse=True)

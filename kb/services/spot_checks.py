"""抽查复核: finance draws a sample of a year's self-evaluations, re-checks them, and reports problems.

The draw is repeatable: the percentage and the random seed are stored, and the candidates are taken in
a fixed order (by id), so ``random.Random(seed)`` picks the same ones again. Every project whose last
monitoring light was red is added to the sample whatever the draw (domain file §3).
"""
from __future__ import annotations

import math
import random
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb import permissions
from kb.errors import NotFound, PermissionDenied, Problem, ValidationFailed
from kb.models import SelfEvaluation, SpotCheck, SpotCheckDraw, SpotCheckProblem
from kb.models.base import utcnow
from kb.models.selfeval import ProblemCategory, SampleReason
from kb.selfeval.scoring import grade_of, round_score
from kb.services import monitoring
from kb.services.audit import Actor, record_change

SOURCE = "抽查复核"


def _require(actor: Actor) -> None:
    if not permissions.can_spot_check(actor):
        raise PermissionDenied("只有财政部门可以抽查复核自评结果。")


def draw_sample(session: Session, actor: Actor, year: int, percentage: float, *, seed: int | None = None,
                red_project_ids: Iterable[int] | None = None) -> SpotCheckDraw:
    """Draw ``percentage`` % of ``year``'s self-evaluations not yet sampled, plus every red-light project.

    ``red_project_ids`` are the budget projects whose last monitoring light was red; by default those
    of ``year``'s monitoring rounds (:func:`kb.services.monitoring.red_light_project_ids`).
    """
    _require(actor)
    if not 0 < percentage <= 100:
        raise ValidationFailed([Problem("抽查比例应在 0 到 100 之间（百分比），例如 10。", SOURCE, "", "percentage")])
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    candidates = list(session.scalars(
        select(SelfEvaluation).where(SelfEvaluation.year == year).order_by(SelfEvaluation.id)
        .options(selectinload(SelfEvaluation.spot_check))))
    open_ = [e for e in candidates if e.spot_check is None]
    if not open_:
        raise ValidationFailed([Problem(f"{year} 年度没有尚未抽查的自评表。", SOURCE, "", "year")])
    draw = SpotCheckDraw(year=year, percentage=percentage, seed=seed, drawn_by=actor.username)
    session.add(draw)
    size = max(1, math.ceil(len(open_) * percentage / 100))
    picked = random.Random(seed).sample(open_, min(size, len(open_)))
    red = set(monitoring.red_light_project_ids(session, year) if red_project_ids is None else red_project_ids)
    chosen = {e.id: SampleReason.RANDOM for e in picked}
    for evaluation in open_:
        if evaluation.project_id in red:
            chosen[evaluation.id] = SampleReason.RED_LIGHT
    by_id = {e.id: e for e in open_}
    for evaluation_id, reason in sorted(chosen.items()):
        draw.checks.append(SpotCheck(evaluation=by_id[evaluation_id], reason=reason, row_scores={}))
    record_change(session, actor, "draw", "spot_check", str(year),
                  after={"percentage": percentage, "seed": seed, "count": len(chosen)},
                  summary=f"抽取 {year} 年度自评表 {len(chosen)} 份（比例 {percentage}% ，随机种子 {seed}）")
    session.flush()
    return draw


def get_check(session: Session, check_id: int) -> SpotCheck:
    check = session.get(SpotCheck, check_id)
    if check is None:
        raise NotFound(f"抽查记录 {check_id} 不存在，请从抽查列表重新打开。")
    return check


def record_check(session: Session, actor: Actor, check: SpotCheck, *, row_scores: Mapping[int, float | str | None],
                 problems: Iterable[tuple[str, int | None, str]], note: str = "") -> SpotCheck:
    """Record re-checked row scores (where they differ) and the problems found; compute the re-checked total.

    ``problems`` = ``(category, row id or None, description)``; every problem needs a category.
    """
    _require(actor)
    evaluation = check.evaluation
    rows = {row.id: row for row in evaluation.rows}
    found: list[Problem] = []
    scores: dict[str, float] = {}
    for row_id, value in row_scores.items():
        if value in (None, ""):
            continue
        row = rows.get(int(row_id))
        try:
            score = float(value)
        except (TypeError, ValueError):
            score = -1.0
        if row is None or not 0 <= score <= row.weight:
            name = row.name if row else str(row_id)
            found.append(Problem(f"复核得分应为 0 到该指标分值 {row.weight if row else ''} 之间的数字。", SOURCE, name, "得分"))
            continue
        if round(score, 2) != round(row.score, 2):
            scores[str(row.id)] = round(score, 2)
    entries = []
    for category, row_id, description in problems:
        if not (description or "").strip() and not category:
            continue
        if category not in ProblemCategory.labels():
            found.append(Problem(f"问题类别“{category}”无效，请选择：{'、'.join(ProblemCategory.labels())}。", SOURCE, "", "类别"))
            continue
        entries.append(SpotCheckProblem(category=ProblemCategory(category), row_id=row_id if row_id in rows else None,
                                        description=(description or "").strip()))
    if found:
        raise ValidationFailed(found)
    check.row_scores = scores
    check.problems = entries
    total = Decimal(repr(evaluation.execution_score)) + sum(
        (Decimal(repr(scores.get(str(row.id), row.score))) for row in evaluation.rows), Decimal(0))
    check.rechecked_total = float(round_score(total))
    check.rechecked_grade = grade_of(check.rechecked_total)
    check.note = note.strip()
    check.checked_by, check.checked_at = actor.username, utcnow()
    record_change(session, actor, "recheck", "self_evaluation", str(evaluation.id),
                  before={"total": evaluation.total}, after={"total": check.rechecked_total,
                                                             "problems": [p.category.value for p in entries]},
                  summary=f"复核 {evaluation.project_name}：自评 {evaluation.total} 分，复核 {check.rechecked_total} 分")
    session.flush()
    return check


def checks_of(session: Session, year: int) -> list[SpotCheck]:
    """The sampled self-evaluations of ``year`` (every draw), department by department."""
    query = (select(SpotCheck).join(SpotCheck.draw).where(SpotCheckDraw.year == year)
             .options(selectinload(SpotCheck.evaluation).selectinload(SelfEvaluation.department),
                      selectinload(SpotCheck.problems)).order_by(SpotCheck.id))
    return list(session.scalars(query))


def draws_of(session: Session, year: int) -> list[SpotCheckDraw]:
    return list(session.scalars(select(SpotCheckDraw).where(SpotCheckDraw.year == year).order_by(SpotCheckDraw.id)))


@dataclass
class DepartmentProblems:
    department: str
    sampled: int = 0
    checked: int = 0
    by_category: Counter = field(default_factory=Counter)
    self_total: float = 0.0
    rechecked_total: float = 0.0

    @property
    def problems(self) -> int:
        return sum(self.by_category.values())

    @property
    def mean_difference(self) -> float | None:
        """Mean of (self-assessed − re-checked) over the checked tables."""
        return round((self.self_total - self.rechecked_total) / self.checked, 2) if self.checked else None


def problem_statistics(session: Session, year: int) -> list[DepartmentProblems]:
    """Problems by department and category, and how far self-assessed totals were from re-checked ones."""
    stats: dict[str, DepartmentProblems] = defaultdict(lambda: DepartmentProblems(""))
    for check in checks_of(session, year):
        name = check.evaluation.department.name
        entry = stats[name]
        entry.department = name
        entry.sampled += 1
        if check.is_done:
            entry.checked += 1
            entry.self_total += check.evaluation.total
            entry.rechecked_total += check.rechecked_total or 0
            entry.by_category.update(problem.category.value for problem in check.problems)
    return sorted(stats.values(), key=lambda s: (-s.problems, s.department))

"""Usage insight for finance: which library indicators goals reuse, which nobody uses, and
indicators of different departments that mean the same thing under different names."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kb.models import Department, GoalRow, Indicator
from kb.vocab import IndicatorState

# Words that carry no meaning of their own in indicator names; dropped before comparing.
FILLER = re.compile(r"(指标|情况|工作|项目|全县|本县|县级|年度|完成|数量|及以上|以上)")
NEAR_DUPLICATE_THRESHOLD = 0.7


def usage_count(session: Session, code: str) -> int:
    """How many goals reuse the library indicator ``code``."""
    return usage_counts(session, [code]).get(code, 0)


def usage_counts(session: Session, codes: Iterable[str] | None = None) -> dict[str, int]:
    """Goals reusing each indicator (only indicators used at least once appear); all when ``codes`` is None."""
    query = select(GoalRow.indicator_code, func.count(func.distinct(GoalRow.goal_id))).where(
        GoalRow.indicator_id.is_not(None)).group_by(GoalRow.indicator_code)
    if codes is not None:
        query = query.where(GoalRow.indicator_code.in_(list(codes)))
    return {code: count for code, count in session.execute(query)}


@dataclass
class DepartmentUsage:
    """One department's library indicators ranked by reuse in goals."""

    code: str
    name: str
    most_used: list[tuple[Indicator, int]] = field(default_factory=list)
    never_used: list[Indicator] = field(default_factory=list)


@dataclass(frozen=True)
class NearDuplicate:
    """Two indicators of different owners whose names are (nearly) the same."""

    first: Indicator
    second: Indicator
    similarity: float

    @property
    def identical(self) -> bool:
        return self.similarity >= 0.999


def usage_by_department(session: Session, top: int = 10) -> list[DepartmentUsage]:
    """Per owner (共性 first, then departments by code): the ``top`` most reused and the never used."""
    counts = usage_counts(session)
    indicators = session.scalars(
        select(Indicator).where(Indicator.state == IndicatorState.ACTIVE)
        .options(selectinload(Indicator.department)).order_by(Indicator.position)
    ).all()
    owners: dict[str | None, DepartmentUsage] = {}
    for indicator in indicators:
        department = indicator.department
        key = department.code if department else None
        usage = owners.get(key)
        if usage is None:
            usage = owners[key] = DepartmentUsage(key or "共性", department.name if department else "共性指标（财政）")
        if counts.get(indicator.code):
            usage.most_used.append((indicator, counts[indicator.code]))
        else:
            usage.never_used.append(indicator)
    for usage in owners.values():
        usage.most_used.sort(key=lambda pair: -pair[1])
        usage.most_used = usage.most_used[:top]
    return sorted(owners.values(), key=lambda u: (u.code != "共性", u.code))


def _signature(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[\s“”\"'（）()《》、，,.。\-—]", "", text)
    return FILLER.sub("", text)


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} or {text}


def similarity(first: str, second: str) -> float:
    """Dice similarity of character bigrams after dropping filler words (1.0 = same meaning words)."""
    a, b = _signature(first), _signature(second)
    if a == b:
        return 1.0
    grams_a, grams_b = _bigrams(a), _bigrams(b)
    return 2 * len(grams_a & grams_b) / (len(grams_a) + len(grams_b))


def near_duplicates(session: Session, threshold: float = NEAR_DUPLICATE_THRESHOLD,
                    department: Department | None = None) -> list[NearDuplicate]:
    """Pairs of active indicators owned by different departments (or 共性) with similar names,
    same unit kind and level1, most similar first. ``department`` limits pairs to those involving it."""
    indicators = session.scalars(
        select(Indicator).where(Indicator.state == IndicatorState.ACTIVE).options(selectinload(Indicator.department))
    ).all()
    signatures = [(indicator, _bigrams(_signature(indicator.name))) for indicator in indicators]
    pairs = []
    for i, (first, grams_a) in enumerate(signatures):
        for second, grams_b in signatures[i + 1:]:
            if first.department_id == second.department_id or first.level1 != second.level1:
                continue
            if department is not None and department.id not in (first.department_id, second.department_id):
                continue
            quick = 2 * len(grams_a & grams_b) / (len(grams_a) + len(grams_b))
            if quick < threshold:
                continue
            pairs.append(NearDuplicate(first, second, round(similarity(first.name, second.name), 3)))
    return sorted(pairs, key=lambda pair: (-pair.similarity, pair.first.code))


def lint_database(session: Session, department_code: str | None = None,
                  include_retired: bool = False) -> list[tuple[Indicator, list]]:
    """``kb.quality.check_indicator`` over the library in the database: ``(indicator, findings)``
    for every indicator with at least one finding, in library order. ``department_code`` may be
    a department's code or ``"共性"`` for the common indicators."""
    from kb.quality import check_indicator, load_rules
    from kb.services.library import indicator_to_dict

    query = select(Indicator).options(selectinload(Indicator.basis), selectinload(Indicator.department)) \
        .order_by(Indicator.department_id, Indicator.position, Indicator.code)
    if not include_retired:
        query = query.where(Indicator.state == IndicatorState.ACTIVE)
    if department_code == "共性":
        query = query.where(Indicator.department_id.is_(None))
    elif department_code:
        query = query.join(Indicator.department).where(Department.code == department_code)
    rules = load_rules()
    results = []
    for indicator in session.scalars(query):
        findings = check_indicator(indicator_to_dict(indicator), rules)
        if findings:
            results.append((indicator, findings))
    return results


def proposed_rows(session: Session) -> list:
    """Custom goal rows departments proposed for their indicator set, newest goal first."""
    from kb.models import BudgetProject, GoalRow, PerformanceGoal

    return list(session.scalars(
        select(GoalRow).join(GoalRow.goal).join(PerformanceGoal.project)
        .where(GoalRow.proposed.is_(True), GoalRow.indicator_id.is_(None))
        .options(selectinload(GoalRow.goal).selectinload(PerformanceGoal.project)
                 .selectinload(BudgetProject.department))
        .order_by(PerformanceGoal.id.desc(), GoalRow.position)
    ))

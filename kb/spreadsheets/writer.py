"""Exports: a department's set or the whole library in the template format (re-importable), and the
data of the printable catalogue (grouped by department, 一级 and 二级指标).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb import vocab
from kb.characters import scrub
from kb.errors import NotFound, PermissionDenied
from kb.models import Department, Indicator
from kb.services.library import indicator_to_dict
from kb.spreadsheets.template import build_workbook, workbook_bytes
from kb.visibility import EVERYTHING, HIDDEN, Visible, indicator_clause
from kb.vocab import IndicatorState

COMMON_LABEL = "共性指标"


def get_department(session: Session, code: str) -> Department:
    """The department with ``code`` or :class:`NotFound`."""
    department = session.scalar(
        select(Department).where(Department.code == code).options(selectinload(Department.indicator_sets))
    )
    if department is None:
        raise NotFound(f"部门 {code} 不存在，请检查部门编码。")
    return department


def _indicators(session: Session, department: Department | None = None, *, everything: bool = False,
                visible: Visible = EVERYTHING) -> list[Indicator]:
    # Drafts of other departments are left out of every export (kb.visibility, issue 14 item 6).
    query = select(Indicator).options(selectinload(Indicator.basis), selectinload(Indicator.department)) \
        .where(indicator_clause(visible))
    if not everything:
        query = query.where(
            Indicator.department_id == department.id if department else Indicator.department_id.is_(None)
        )
    return list(session.scalars(query.order_by(Indicator.department_id.is_not(None), Indicator.department_id,
                                               Indicator.position, Indicator.code)))


def department_workbook(session: Session, code: str, visible: Visible = EVERYTHING) -> bytes:
    """The template pre-filled with the department's current indicators (also its export); a
    department whose set ``visible`` may not read is refused (:class:`PermissionDenied`)."""
    department = get_department(session, code)
    if not visible.allows(department.id):
        raise PermissionDenied(HIDDEN)
    rows = [indicator_to_dict(indicator) for indicator in _indicators(session, department)]
    return workbook_bytes(build_workbook(rows, department=(department.code, department.name)))


def common_workbook(session: Session) -> bytes:
    """The common indicators (共性指标) in the template format, with 所属部门 = 共性指标 (re-importable)."""
    rows = [indicator_to_dict(indicator) for indicator in _indicators(session, None)]
    labels = {row["code"]: COMMON_LABEL for row in rows}
    return workbook_bytes(build_workbook(rows, department=("共性", COMMON_LABEL), departments=labels))


def library_workbook(session: Session, visible: Visible = EVERYTHING) -> bytes:
    """Every indicator (that ``visible`` may read) with a 所属部门 column, re-importable by finance in one go."""
    indicators = _indicators(session, everything=True, visible=visible)
    labels = {i.code: department_label(i.department) for i in indicators}
    return workbook_bytes(build_workbook([indicator_to_dict(i) for i in indicators], departments=labels))


def department_label(department: Department | None) -> str:
    return f"{department.code} {department.name}" if department else COMMON_LABEL


def safe_filename(text: str) -> str:
    """A file name from a department name: no path separators, quotes or line breaks (SEC-EXP-1)."""
    # Control characters (CR/LF in a header → 500) and invisible ones are dropped too (item 5/11).
    return re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f\']+', "", scrub(text)).replace("\ufffd", "").strip() or "导出"


@dataclass
class CatalogueGroup:
    """One department (or the common indicators) in the catalogue, by 一级 → 二级 → indicators."""

    code: str
    name: str
    status: str
    year: int | None
    levels: list[tuple[str, list[tuple[str, list[dict[str, Any]]]]]] = field(default_factory=list)
    count: int = 0


def catalogue(session: Session, department_code: str | None = None, include_empty: bool = False,
              visible: Visible = EVERYTHING) -> list[CatalogueGroup]:
    """The printable catalogue's content: active indicators grouped by department and level."""
    departments = [get_department(session, department_code)] if department_code else list(session.scalars(
        select(Department).options(selectinload(Department.indicator_sets)).order_by(Department.code)
    ))
    groups: list[CatalogueGroup] = []
    if department_code is None:
        groups.append(_group(COMMON_LABEL, COMMON_LABEL, "财政统一制定", None, _indicators(session, None)))
    for department in departments:
        current = department.current_set
        status = current.status.label if current else "尚未梳理"
        groups.append(_group(department.code, department.name, status, current.year if current else None,
                             _indicators(session, department, visible=visible)))
    return [group for group in groups if group.count or include_empty or department_code]


def _group(code: str, name: str, status: str, year: int | None, indicators: list[Indicator]) -> CatalogueGroup:
    group = CatalogueGroup(code, name, status, year)
    order = {level1: i for i, level1 in enumerate(vocab.taxonomy().level1_names())}
    by_level: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for indicator in indicators:
        if indicator.state != IndicatorState.ACTIVE:
            continue
        by_level.setdefault(indicator.level1, {}).setdefault(indicator.level2, []).append(indicator_to_dict(indicator))
        group.count += 1
    for level1 in sorted(by_level, key=lambda name: order.get(name, len(order))):
        level2_order = vocab.taxonomy().levels.get(level1, ())
        level2s = sorted(by_level[level1],
                         key=lambda name: level2_order.index(name) if name in level2_order else len(level2_order))
        group.levels.append((level1, [(level2, by_level[level1][level2]) for level2 in level2s]))
    return group

"""Importing a filled-in 梳理模版: preview first, then all or nothing (security.md REL-2).

``preview_import`` reads and validates the whole file and says, row by row, what would be added,
changed (field by field) and left alone; it writes nothing. ``apply_import`` writes a preview in
the caller's transaction (flush, never commit). ``confirm_import`` re-reads the file the user
previewed, refuses when the library changed since (the preview's fingerprint), and applies it.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.errors import ImportFailed, PreviewOutdated
from kb.models import Department, Indicator, IndicatorSet
from kb.models.base import utcnow
from kb.services.audit import Actor, record_change
from kb.services.import_plan import SCHEMA, FieldChange, ImportPlan, PlannedRow, Planner
from kb.services.library import apply_indicator_fields
from kb.spreadsheets.reader import read_table
from kb.vocab import SetStatus


@dataclass
class ImportResult:
    added: int
    changed: int
    unchanged: int
    codes: list[str]


def preview_import(
    session: Session, actor: Actor, content: bytes, filename: str, department_code: str | None = None,
    *, lock: bool = False,
) -> ImportPlan:
    """Read and validate ``content`` for ``department_code`` (None: whole library, by 所属部门).

    Raises :class:`ImportFailed` listing every problem, :class:`NotFound` or :class:`PermissionDenied`.
    """
    table = read_table(content, filename)
    if table.problems:
        raise ImportFailed(table.problems, table.warnings)
    planner = Planner(session, actor, table, department_code, lock)
    # Taken before planning: a change committed meanwhile (PostgreSQL reads committed data per
    # statement) then makes the state differ at confirmation, and the file is planned again.
    state = library_state(session)
    plan = planner.plan()
    plan.sha256 = hashlib.sha256(content).hexdigest()
    plan.state = state
    plan.actor_key = _actor_key(actor)
    return plan


def confirm_import(
    session: Session, actor: Actor, content: bytes, filename: str, department_code: str | None,
    fingerprint: str, progress: Callable[[int], None] | None = None, saved: ImportPlan | None = None,
) -> ImportResult:
    """Apply the file the user previewed, unless the library changed since (:class:`PreviewOutdated`).

    ``saved`` (the preview's plan, see :func:`plan_to_json`) is applied as it is when nothing a plan
    depends on changed since (:func:`library_state`), which saves reading and validating the file a
    second time; otherwise the file is planned again and must have the same effect (``fingerprint``).
    """
    if saved is not None and saved.fingerprint == fingerprint and saved.sha256 == hashlib.sha256(content).hexdigest() \
            and saved.department_code == department_code and saved.actor_key == _actor_key(actor):
        if department_code is not None:  # the same lock the planner takes: one import per department at a time
            session.scalar(select(Department.id).where(Department.code == department_code).with_for_update())
        if saved.state == library_state(session):
            return apply_import(session, actor, saved, progress)
    plan = preview_import(session, actor, content, filename, department_code, lock=True)
    if plan.fingerprint != fingerprint:
        raise PreviewOutdated("预览之后，指标库中的相关指标已被他人修改（或文件有变化）。请重新预览，核对后再确认导入；本次没有写入任何数据。")
    return apply_import(session, actor, plan, progress)


def apply_import(
    session: Session, actor: Actor, plan: ImportPlan, progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Write a preview: add and change its rows, audit each, flush (the caller commits once)."""
    departments = {d.code: d for d in session.scalars(
        select(Department).where(Department.code.in_({r.department_code for r in plan.rows if r.department_code}))
        .options(selectinload(Department.indicator_sets))
    )}
    existing = {i.code: i for i in session.scalars(
        select(Indicator).where(Indicator.code.in_([r.code for r in plan.rows if r.action == "change"]))
        .options(selectinload(Indicator.basis))
    )}
    next_position = _next_positions(session, {r.department_code for r in plan.added})
    for department in departments.values():
        _ensure_draft_set(session, actor, department)
    for row in plan.rows:
        if row.action == "add":
            department = departments.get(row.department_code) if row.department_code else None
            indicator = Indicator(code=row.code, department=department, position=next_position[row.department_code])
            next_position[row.department_code] += 1
            apply_indicator_fields(indicator, row.data)
            session.add(indicator)
            record_change(session, actor, "create", "indicator", row.code, after=row.after,
                          summary=f"导入 {plan.filename} {row.source} 第 {row.row} 行：{row.name}")
        elif row.action == "change":
            indicator = existing[row.code]
            before = SCHEMA.dump(indicator)
            apply_indicator_fields(indicator, row.data)
            indicator.updated_at = utcnow()
            record_change(session, actor, "update", "indicator", row.code, before=before,
                          after=row.after,
                          summary=f"导入 {plan.filename} {row.source} 第 {row.row} 行：{row.name}")
        if progress:
            progress(1)
    result = ImportResult(len(plan.added), len(plan.changed), len(plan.unchanged),
                          [r.code for r in plan.rows if r.action != "same"])
    if not result.codes:
        return result  # nothing changed: nothing to audit
    record_change(session, actor, "import", "department" if plan.department_code else "library",
                  plan.department_code or "全库",
                  after={"file": plan.filename, "sha256": plan.sha256, "added": result.added,
                         "changed": result.changed, "unchanged": result.unchanged},
                  summary=f"从 {plan.filename} 导入：新增 {result.added}、修改 {result.changed}、未变 {result.unchanged}")
    session.flush()
    return result


def library_state(session: Session) -> str:
    """A digest of what every plan depends on: each indicator's code, owner and version (any edit
    bumps the version), the departments, and the sets (their status decides who may import)."""
    digest = hashlib.sha256()
    queries = (
        select(Indicator.code, Indicator.department_id, Indicator.row_version).order_by(Indicator.code),
        select(Department.id, Department.code, Department.name).order_by(Department.id),
        select(IndicatorSet.id, IndicatorSet.department_id, IndicatorSet.status, IndicatorSet.is_current,
               IndicatorSet.row_version).order_by(IndicatorSet.id),
    )
    for query in queries:
        for row in session.execute(query):
            digest.update(repr(tuple(str(value) for value in row)).encode("utf-8"))
        digest.update(b"|")
    return digest.hexdigest()


def _actor_key(actor: Actor) -> list:
    return [actor.username, actor.role.value if actor.role else "", actor.department_id]


def plan_to_json(plan: ImportPlan) -> str:
    """A plan as JSON, to keep between the preview and the confirmation (what :func:`apply_import` needs)."""
    return json.dumps({
        "version": 1, "filename": plan.filename, "sha256": plan.sha256, "department_code": plan.department_code,
        "fingerprint": plan.fingerprint, "state": plan.state, "actor_key": plan.actor_key,
        "rows": [asdict(row) for row in plan.rows],
    }, ensure_ascii=False)


def plan_from_json(text: str) -> ImportPlan | None:
    """The plan saved by :func:`plan_to_json`, or None when it cannot be read (then the file is planned again)."""
    try:
        data = json.loads(text)
        if data.get("version") != 1:
            return None
        rows = [PlannedRow(**{**row, "changes": [FieldChange(**c) for c in row["changes"]]}) for row in data["rows"]]
        return ImportPlan(data["filename"], data["sha256"], data["department_code"], rows, [], [], [],
                          fingerprint=data["fingerprint"], state=data["state"], actor_key=data["actor_key"])
    except (ValueError, KeyError, TypeError):
        return None


def _next_positions(session: Session, department_codes: set[str | None]) -> dict[str | None, int]:
    positions: dict[str | None, int] = {}
    for code in department_codes:
        query = select(Indicator.position).join(Department) if code else select(Indicator.position)
        query = query.where(Department.code == code) if code else query.where(Indicator.department_id.is_(None))
        positions[code] = max(session.scalars(query).all(), default=-1) + 1
    return positions


def _ensure_draft_set(session: Session, actor: Actor, department: Department) -> None:
    """A department without any indicator set gets a draft one to hold what it imports."""
    if department.current_set is not None:
        return
    year = utcnow().year
    indicator_set = IndicatorSet(department=department, year=year, version=1, status=SetStatus.DRAFT, is_current=True)
    session.add(indicator_set)
    record_change(session, actor, "create", "indicator_set", f"{department.code} v1",
                  after={"year": year, "status": SetStatus.DRAFT.value}, summary="导入梳理模版时新建草稿指标集")



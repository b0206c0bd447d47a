"""Editing library indicators: create, update (optimistic locking), retire, restore, reorder."""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.errors import EditConflict, NotFound, PermissionDenied, ValidationFailed
from kb.models import Department, Indicator
from kb.models.base import utcnow
from kb.schemas import IndicatorSchema, problems_from
from kb.permissions import can_add_indicator, can_edit_indicator
from kb.services.audit import Actor, record_change
from kb.services.library import apply_indicator_fields, indicator_to_dict
from kb.vocab import IndicatorState


def get_indicator(session: Session, code: str) -> Indicator:
    """The indicator with ``code`` or :class:`NotFound`."""
    indicator = session.scalar(
        select(Indicator).where(Indicator.code == code).options(selectinload(Indicator.basis))
    )
    if indicator is None:
        raise NotFound(f"指标 {code} 不存在，请检查编码或通过检索查找。")
    return indicator


def _validated(data: dict[str, Any], source: str) -> dict[str, Any]:
    try:
        return IndicatorSchema().load(data)
    except ValidationError as error:
        raise ValidationFailed(problems_from(error, source)) from None


def create_indicator(
    session: Session, actor: Actor, data: dict[str, Any], department: Department | None
) -> Indicator:
    """Add an indicator to ``department``'s set (None: a common indicator)."""
    if not can_add_indicator(actor, department):
        raise PermissionDenied("您没有在该部门指标集中新增指标的权限（部门用户只能编辑本部门草稿状态的指标集）。")
    loaded = _validated(data, "新增指标")
    if session.scalar(select(Indicator.id).where(Indicator.code == loaded["code"])) is not None:
        raise ValidationFailed([_code_taken(loaded["code"])])
    position = len(department.indicators) if department else session.query(Indicator).filter(
        Indicator.department_id.is_(None)).count()
    indicator = Indicator(code=loaded["code"], department=department, position=position)
    apply_indicator_fields(indicator, loaded)
    session.add(indicator)
    session.flush()
    record_change(session, actor, "create", "indicator", indicator.code, after=indicator_to_dict(indicator),
                  summary=indicator.name)
    return indicator


def _code_taken(code: str):
    from kb.errors import Problem

    return Problem(f"编码 {code} 已被使用，请换一个编码。", "新增指标", f"指标 {code}", "code")


def update_indicator(
    session: Session, actor: Actor, code: str, data: dict[str, Any], expected_version: int
) -> Indicator:
    """Replace an indicator's fields; refuse with :class:`EditConflict` if someone saved since."""
    indicator = get_indicator(session, code)
    if not can_edit_indicator(actor, indicator):
        raise PermissionDenied("您没有修改该指标的权限（部门用户只能编辑本部门草稿状态的指标集）。")
    before = indicator_to_dict(indicator)
    loaded = _validated({**data, "code": code}, f"指标 {code}")
    _check_version(indicator, expected_version, before, loaded)
    apply_indicator_fields(indicator, loaded)
    indicator.updated_at = utcnow()
    session.flush()
    after = indicator_to_dict(indicator)
    record_change(session, actor, "update", "indicator", code, before=before, after=after, summary=indicator.name)
    return indicator


def _check_version(indicator: Indicator, expected_version: int, current: dict, _incoming: dict) -> None:
    if indicator.row_version != expected_version:
        raise EditConflict(
            entity=f"指标 {indicator.code}",
            expected_version=expected_version,
            current_version=indicator.row_version,
            changes=changes_since(indicator, expected_version, current),
        )


def changes_since(indicator: Indicator, version: int, current: dict) -> dict[str, tuple[object, object]]:
    """Field changes made after ``version``, from the audit log (what the other person changed)."""
    from kb.models import AuditEntry  # local: only needed on conflicts

    session = Session.object_session(indicator)
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == "indicator", AuditEntry.entity_key == indicator.code,
               AuditEntry.action.in_(("update", "retire", "restore")))
        .order_by(AuditEntry.id.desc())
        .limit(max(1, indicator.row_version - version))
    ).all()
    changes: dict[str, tuple[object, object]] = {}
    for entry in reversed(entries):
        for key, value in (entry.after or {}).items():
            old = (entry.before or {}).get(key)
            if old != value:
                first_old = changes.get(key, (old, None))[0]
                changes[key] = (first_old, value)
    return changes


def retire_indicator(session: Session, actor: Actor, code: str, expected_version: int, reason: str = "") -> Indicator:
    """Take an indicator out of use (出库); it stays readable and can be restored. Never deleted."""
    return _set_state(session, actor, code, expected_version, IndicatorState.RETIRED, "retire", reason)


def restore_indicator(session: Session, actor: Actor, code: str, expected_version: int) -> Indicator:
    """Put a retired indicator back into use."""
    return _set_state(session, actor, code, expected_version, IndicatorState.ACTIVE, "restore", "")


def _set_state(session, actor, code, expected_version, state, action, reason) -> Indicator:
    indicator = get_indicator(session, code)
    if not can_edit_indicator(actor, indicator):
        raise PermissionDenied("您没有调整该指标状态的权限。")
    before = indicator_to_dict(indicator)
    _check_version(indicator, expected_version, before, {})
    indicator.state = state
    indicator.retired_at = utcnow() if state == IndicatorState.RETIRED else None
    indicator.updated_at = utcnow()
    session.flush()
    record_change(session, actor, action, "indicator", code, before={"state": before.get("state", "active")},
                  after={"state": state.value}, summary=reason or indicator.name)
    return indicator


def reorder_indicators(session: Session, actor: Actor, department: Department | None, codes: list[str]) -> None:
    """Put ``department``'s indicators (None: the common ones) in the order of ``codes``."""
    if not can_add_indicator(actor, department):
        raise PermissionDenied("您没有调整该指标集顺序的权限。")
    department_id = department.id if department else None
    indicators = {
        i.code: i for i in session.scalars(select(Indicator).where(Indicator.department_id.is_(department_id)
                                                                  if department_id is None
                                                                  else Indicator.department_id == department_id))
    }
    unknown = [code for code in codes if code not in indicators]
    if unknown or len(set(codes)) != len(indicators):
        raise ValidationFailed([_order_problem(unknown)])
    before = sorted(indicators, key=lambda c: indicators[c].position)
    for position, code in enumerate(codes):
        indicators[code].position = position
    session.flush()
    record_change(session, actor, "reorder", "indicator_set", department.code if department else "common",
                  before={"order": before}, after={"order": codes})


def _order_problem(unknown: list[str]):
    from kb.errors import Problem

    if unknown:
        return Problem(f"这些编码不属于该指标集：{'、'.join(unknown)}。", "调整顺序")
    return Problem("排序列表必须包含该指标集的全部指标，且每个只出现一次。", "调整顺序")

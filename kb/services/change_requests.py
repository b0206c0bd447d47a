"""Change requests for the common library (入库/修改/出库).

A department proposes a new common indicator, a change to one, or its retirement; the proposal is
staged in :class:`~kb.models.ChangeRequest` and finance accepts or declines it. Accepting applies it
through the ordinary indicator services, so the indicator's own history records the change too.
"""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import permissions
from kb.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from kb.models import ChangeRequest, Indicator
from kb.models.base import utcnow
from kb.models.workflow import ChangeKind, ChangeStatus
from kb.schemas import IndicatorSchema, problems_from
from kb.services.audit import Actor, record_change
from kb.services.indicators import create_indicator, get_indicator, retire_indicator, update_indicator
from kb.services.library import indicator_to_dict
from kb.services.versions import FIELD_LABELS
from kb.vocab import IndicatorState


def _key(request: ChangeRequest) -> str:
    return f"CR-{request.id}"


def _common_indicator(session: Session, code: str) -> Indicator:
    indicator = get_indicator(session, code)
    if not indicator.is_common:
        raise InvalidTransition(f"指标 {code} 是部门的个性指标，不是共性指标；部门个性指标请在本部门指标集中直接修改。")
    if indicator.state != IndicatorState.ACTIVE:
        raise InvalidTransition(f"共性指标 {code} 已出库，不能再申请修改或出库。")
    return indicator


def _validated(data: dict[str, Any], code: str) -> dict[str, Any]:
    try:
        loaded = IndicatorSchema().load({**data, "code": code})
    except ValidationError as error:
        raise ValidationFailed(problems_from(error, "变更申请", f"指标 {code}")) from None
    return IndicatorSchema().dump(loaded)


def propose_change(session: Session, actor: Actor, kind: ChangeKind | str, indicator_code: str, reason: str,
                   data: dict[str, Any] | None = None) -> ChangeRequest:
    """A department proposes 入库 (``add``, with ``data``), 修改 (``modify``, with ``data``) or 出库
    (``retire``) of a common indicator. Nothing in the library changes until finance accepts."""
    kind = ChangeKind(kind)
    if not permissions.can_request_change(actor):
        raise PermissionDenied("变更申请由预算部门提出；财政用户可直接编辑共性指标。")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidTransition("请填写申请理由（依据的政策文件、实际需要等），财政据此审核。")
    code = (indicator_code or "").strip()
    base_version = None
    if kind == ChangeKind.ADD:
        proposed = _validated(data or {}, code)
        code = proposed["code"]
        if session.scalar(select(Indicator.id).where(Indicator.code == code)) is not None:
            raise InvalidTransition(f"编码 {code} 已被使用，请换一个编码再申请入库。")
        if _pending(session, code):
            raise InvalidTransition(f"编码 {code} 已有待处理的申请，请换一个编码或等待财政处理。")
    else:
        indicator = _common_indicator(session, code)
        base_version = indicator.row_version
        proposed = None
        if kind == ChangeKind.MODIFY:
            proposed = _validated(data or {}, code)
            if proposed == indicator_to_dict(indicator):
                raise InvalidTransition("申请内容与现有指标完全相同，请修改需要调整的字段后再提交。")
    request = ChangeRequest(kind=kind, indicator_code=code, proposed=proposed, base_version=base_version,
                            reason=reason, department_id=actor.department_id, requested_by_id=actor.user_id,
                            requested_by_name=actor.username)
    session.add(request)
    session.flush()
    record_change(session, actor, "propose", "change_request", _key(request), after={
        "kind": kind.value, "indicator": code, "proposed": proposed, "reason": reason,
    }, summary=f"{kind.label}：{code} {reason}")
    return request


def _pending(session: Session, code: str) -> bool:
    return session.scalar(select(ChangeRequest.id).where(
        ChangeRequest.indicator_code == code, ChangeRequest.status == ChangeStatus.PENDING)) is not None


def get_change_request(session: Session, request_id: int) -> ChangeRequest:
    request = session.get(ChangeRequest, request_id)
    if request is None:
        raise NotFound(f"变更申请 {request_id} 不存在，请从“变更申请”列表进入。")
    return request


def can_view(actor: Actor, request: ChangeRequest) -> bool:
    """Finance sees every request; a department sees its own department's."""
    return permissions.can_view_change(actor, request)


def _decide(session, actor, request, status, note) -> None:
    if not permissions.can_decide_change(actor):
        raise PermissionDenied("只有财政用户可以处理共性指标的变更申请。")
    if request.status != ChangeStatus.PENDING:
        raise InvalidTransition(f"该申请已是“{request.status.label}”，不能再次处理。请刷新页面。")
    request.status, request.decided_by_name, request.decided_at = status, actor.username, utcnow()
    request.decision_note = note


def accept_change(session: Session, actor: Actor, request: ChangeRequest, note: str = "") -> Indicator:
    """Finance accepts: the proposal is applied to the library (with the indicator's own history)."""
    _decide(session, actor, request, ChangeStatus.ACCEPTED, (note or "").strip())
    if request.kind == ChangeKind.ADD:
        indicator = create_indicator(session, actor, dict(request.proposed), None)
    elif request.kind == ChangeKind.MODIFY:
        indicator = _common_indicator(session, request.indicator_code)
        indicator = update_indicator(session, actor, request.indicator_code, dict(request.proposed),
                                     indicator.row_version)
    else:
        indicator = _common_indicator(session, request.indicator_code)
        indicator = retire_indicator(session, actor, request.indicator_code, indicator.row_version, request.reason)
    session.flush()
    record_change(session, actor, "accept", "change_request", _key(request),
                  before={"status": "pending"}, after={"status": "accepted", "note": request.decision_note},
                  summary=f"采纳{request.kind.label}：{request.indicator_code}")
    return indicator


def decline_change(session: Session, actor: Actor, request: ChangeRequest, note: str) -> ChangeRequest:
    """Finance declines with a reason the department can read."""
    note = (note or "").strip()
    if not note:
        raise InvalidTransition("请填写不予采纳的理由，部门才能了解原因。")
    _decide(session, actor, request, ChangeStatus.DECLINED, note)
    session.flush()
    record_change(session, actor, "decline", "change_request", _key(request),
                  before={"status": "pending"}, after={"status": "declined", "note": note},
                  summary=f"未采纳{request.kind.label}：{request.indicator_code} {note}")
    return request


def withdraw_change(session: Session, actor: Actor, request: ChangeRequest) -> ChangeRequest:
    """The proposing department withdraws a pending request."""
    if not permissions.can_withdraw_change(actor, request):
        raise PermissionDenied("只有提出申请的部门可以撤回该申请。")
    if request.status != ChangeStatus.PENDING:
        raise InvalidTransition(f"该申请已是“{request.status.label}”，不能撤回。")
    request.status, request.decided_at, request.decided_by_name = ChangeStatus.WITHDRAWN, utcnow(), actor.username
    session.flush()
    record_change(session, actor, "withdraw", "change_request", _key(request),
                  before={"status": "pending"}, after={"status": "withdrawn"})
    return request


def list_change_requests(session: Session, actor: Actor, status: ChangeStatus | None = None) -> list[ChangeRequest]:
    """Requests the actor may see, newest first."""
    query = select(ChangeRequest).order_by(ChangeRequest.id.desc())
    if not permissions.can_list_changes(actor):
        return []
    if permissions.sees_only_own_department(actor):
        query = query.where(ChangeRequest.department_id == actor.department_id)
    if status is not None:
        query = query.where(ChangeRequest.status == status)
    return list(session.scalars(query))


def proposed_changes(session: Session, request: ChangeRequest) -> list[tuple[str, Any, Any]]:
    """For a 修改 request: (field label, current value, proposed value) for every field that differs."""
    if request.kind != ChangeKind.MODIFY or not request.proposed:
        return []
    current = indicator_to_dict(get_indicator(session, request.indicator_code))
    keys = dict.fromkeys([*current, *request.proposed])
    return [(FIELD_LABELS.get(key, key), current.get(key), request.proposed.get(key))
            for key in keys if key != "code" and current.get(key) != request.proposed.get(key)]

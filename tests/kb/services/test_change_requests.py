"""Change requests for common indicators: propose, accept (applied with history), decline, withdraw."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.errors import InvalidTransition, PermissionDenied, ValidationFailed
from kb.models import AuditEntry, Indicator
from kb.models.workflow import ChangeStatus
from kb.services.change_requests import (
    accept_change, can_view, decline_change, list_change_requests, propose_change, proposed_changes,
    withdraw_change,
)
from kb.vocab import IndicatorState
from tests.conftest import indicator_data
from tests.kb.services.workflow_world import build_world


@pytest.fixture
def world(session, make_department, make_indicator):
    world = build_world(session, make_department, make_indicator)
    make_indicator(None, code="GX-001", name="资金到位率")
    session.commit()
    return world


def test_add_is_staged_until_finance_accepts(world):
    session = world.session
    request = propose_change(session, world.a("department"), "add", "GX-900", "多个部门都有培训项目",
                             indicator_data(code="GX-900", name="培训参训率"))
    assert session.scalar(select(Indicator).where(Indicator.code == "GX-900")) is None
    indicator = accept_change(session, world.a("finance"), request, "同意入库")
    assert indicator.is_common and indicator.name == "培训参训率"
    assert request.status == ChangeStatus.ACCEPTED and request.decided_by_name == "finance"
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()[-3:]
    assert actions == ["propose", "create", "accept"]


def test_modify_shows_field_changes_and_applies_them(world):
    session = world.session
    request = propose_change(session, world.a("department"), "modify", "GX-001", "上级要求提高",
                             indicator_data(code="GX-001", name="资金到位率", target="98"))
    assert proposed_changes(session, request) == [("指标值", "95", "98")]
    accept_change(session, world.a("finance"), request)
    assert session.scalar(select(Indicator.target).where(Indicator.code == "GX-001")) == "98"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
    assert (entry.before["target"], entry.after["target"]) == ("95", "98")


def test_retire_applies_with_reason(world):
    request = propose_change(world.session, world.a("department"), "retire", "GX-001", "政策已废止")
    indicator = accept_change(world.session, world.a("finance"), request)
    assert indicator.state == IndicatorState.RETIRED


def test_decline_needs_a_reason_and_keeps_the_library(world):
    request = propose_change(world.session, world.a("department"), "retire", "GX-001", "不再需要")
    with pytest.raises(InvalidTransition, match="理由"):
        decline_change(world.session, world.a("finance"), request, "")
    decline_change(world.session, world.a("finance"), request, "多数部门仍在使用")
    assert request.status == ChangeStatus.DECLINED
    with pytest.raises(InvalidTransition):
        accept_change(world.session, world.a("finance"), request)
    assert world.session.scalar(select(Indicator.state).where(Indicator.code == "GX-001")) == IndicatorState.ACTIVE


@pytest.mark.parametrize("role", ["finance", "expert", "admin"])
def test_only_departments_propose(world, role):
    with pytest.raises(PermissionDenied):
        propose_change(world.session, world.a(role), "retire", "GX-001", "理由")


@pytest.mark.parametrize("role", ["department", "expert", "admin"])
def test_only_finance_decides(world, role):
    request = propose_change(world.session, world.a("department"), "retire", "GX-001", "理由")
    with pytest.raises(PermissionDenied):
        accept_change(world.session, world.a(role), request)
    with pytest.raises(PermissionDenied):
        decline_change(world.session, world.a(role), request, "不同意")


def test_refusals_say_what_to_fix(world):
    session, department = world.session, world.a("department")
    with pytest.raises(InvalidTransition, match="申请理由"):
        propose_change(session, department, "retire", "GX-001", " ")
    with pytest.raises(InvalidTransition, match="个性指标"):
        propose_change(session, department, "modify", "T-101", "理由", indicator_data(code="T-101"))
    with pytest.raises(InvalidTransition, match="已被使用"):
        propose_change(session, department, "add", "GX-001", "理由", indicator_data(code="GX-001"))
    with pytest.raises(ValidationFailed) as caught:
        propose_change(session, department, "add", "GX-901", "理由", indicator_data(code="GX-901", unit=""))
    assert "unit" in str(caught.value) or "单位" in str(caught.value)
    with pytest.raises(InvalidTransition, match="完全相同"):
        propose_change(session, department, "modify", "GX-001", "理由", indicator_data(code="GX-001", name="资金到位率"))


def test_withdraw_and_visibility(world):
    request = propose_change(world.session, world.a("department"), "retire", "GX-001", "理由")
    assert not can_view(world.a("other_department"), request)
    assert can_view(world.a("finance"), request)
    assert list_change_requests(world.session, world.a("other_department")) == []
    assert list_change_requests(world.session, world.a("department")) == [request]
    with pytest.raises(PermissionDenied):
        withdraw_change(world.session, world.a("other_department"), request)
    withdraw_change(world.session, world.a("department"), request)
    assert request.status == ChangeStatus.WITHDRAWN

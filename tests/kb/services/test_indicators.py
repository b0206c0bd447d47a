import pytest
from sqlalchemy import select

from kb.db import make_session_factory
from kb.errors import EditConflict, NotFound, PermissionDenied, ValidationFailed
from kb.models import AuditEntry, Indicator
from kb.services.audit import Actor
from kb.services.indicators import (
    create_indicator, get_indicator, reorder_indicators, restore_indicator, retire_indicator, update_indicator,
)
from kb.services.library import indicator_to_dict
from kb.vocab import IndicatorState, SetStatus
from tests.conftest import indicator_data

FINANCE = Actor("fin", "finance", 1)


def department_actor(department):
    return Actor("dep", "department", 2, department.id)


def test_update_records_audit_before_and_after(session, make_department, make_indicator):
    indicator = make_indicator(make_department())
    session.commit()
    update_indicator(session, FINANCE, indicator.code, indicator_data(name="新名称"), indicator.row_version)
    session.commit()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
    assert (entry.before["name"], entry.after["name"], entry.actor) == ("测试覆盖率", "新名称", "fin")


def test_second_save_is_refused_with_what_changed(session, engine, make_department, make_indicator):
    indicator = make_indicator(make_department())
    session.commit()
    version_both_read = indicator.row_version
    other = make_session_factory(engine)()
    update_indicator(other, FINANCE, indicator.code, indicator_data(target="98"), version_both_read)
    other.commit()
    other.close()
    session.expire_all()
    with pytest.raises(EditConflict) as caught:
        update_indicator(session, FINANCE, indicator.code, indicator_data(name="我的改动"), version_both_read)
    assert caught.value.changes == {"target": ("95", "98")}
    assert "已被他人修改" in str(caught.value) and "target" in str(caught.value)
    session.rollback()
    assert get_indicator(session, indicator.code).name == "测试覆盖率"


def test_department_edits_only_its_own_draft(session, make_department, make_indicator):
    own = make_department("901", "本部门")
    other = make_department("902", "他部门")
    certified = make_department("903", "已审定部门", status=SetStatus.CERTIFIED)
    mine = make_indicator(own, code="A-1")
    theirs = make_indicator(other, code="B-1")
    frozen = make_indicator(certified, code="C-1")
    common = make_indicator(None, code="G-1")
    actor = department_actor(own)
    update_indicator(session, actor, mine.code, indicator_data(code="A-1", name="可改"), mine.row_version)
    for indicator in (theirs, common):
        with pytest.raises(PermissionDenied):
            update_indicator(session, actor, indicator.code, indicator_data(), indicator.row_version)
    with pytest.raises(PermissionDenied):
        update_indicator(session, department_actor(certified), frozen.code, indicator_data(), frozen.row_version)
    with pytest.raises(PermissionDenied):
        create_indicator(session, actor, indicator_data(code="N-1"), other)
    with pytest.raises(PermissionDenied):
        update_indicator(session, Actor("exp", "expert"), mine.code, indicator_data(), mine.row_version)


def test_create_validates_and_refuses_duplicate_code(session, make_department, make_indicator):
    department = make_department()
    make_indicator(department, code="A-1")
    with pytest.raises(ValidationFailed) as caught:
        create_indicator(session, FINANCE, indicator_data(code="A-1"), department)
    assert "已被使用" in str(caught.value)
    with pytest.raises(ValidationFailed) as caught:
        create_indicator(session, FINANCE, indicator_data(code="A-2", unit=""), department)
    assert "计量单位" in str(caught.value)
    created = create_indicator(session, FINANCE, indicator_data(code="A-3"), department)
    assert created.position == 1 and created.department is department


def test_retire_and_restore_never_delete(session, make_department, make_indicator):
    indicator = make_indicator(make_department())
    retire_indicator(session, FINANCE, indicator.code, indicator.row_version, "政策到期")
    assert indicator.state == IndicatorState.RETIRED and indicator.retired_at is not None
    assert indicator_to_dict(indicator)["state"] == "retired"
    restore_indicator(session, FINANCE, indicator.code, indicator.row_version)
    assert indicator.is_active
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["retire", "restore"]


def test_reorder(session, make_department, make_indicator):
    department = make_department()
    for code in ("A-1", "A-2", "A-3"):
        make_indicator(department, code=code)
    reorder_indicators(session, FINANCE, department, ["A-3", "A-1", "A-2"])
    order = session.scalars(select(Indicator.code).order_by(Indicator.position)).all()
    assert order == ["A-3", "A-1", "A-2"]
    with pytest.raises(ValidationFailed):
        reorder_indicators(session, FINANCE, department, ["A-3", "A-1"])


def test_missing_indicator(session):
    with pytest.raises(NotFound):
        get_indicator(session, "NOPE")

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from kb.db import make_session_factory
from kb.models import AuditEntry, AuditLogIsAppendOnly, Indicator, IndicatorSet
from kb.services.audit import record_change
from kb.vocab import SetStatus


def test_optimistic_locking_refuses_stale_update(session, engine, make_department, make_indicator):
    make_indicator(make_department())
    session.commit()
    other = make_session_factory(engine)()
    mine = session.scalar(select(Indicator))
    session.commit()  # like a web form: read in one request, save in the next
    theirs = other.scalar(select(Indicator))
    theirs.name = "他人先保存"
    other.commit()
    mine.name = "我后保存"
    with pytest.raises(StaleDataError):
        session.commit()
    other.close()


def test_one_current_set_per_department(session, make_department):
    department = make_department()
    session.add(IndicatorSet(department=department, year=2026, version=2, status=SetStatus.DRAFT, is_current=True))
    with pytest.raises(IntegrityError):
        session.flush()


def test_audit_rows_cannot_be_changed_or_deleted(session, actor):
    entry = record_change(session, actor, "create", "indicator", "X-1", after={"name": "x"})
    session.commit()
    entry.action = "tampered"
    with pytest.raises(AuditLogIsAppendOnly):
        session.flush()
    session.rollback()
    session.delete(session.get(AuditEntry, entry.id))
    with pytest.raises(AuditLogIsAppendOnly):
        session.flush()


def test_timestamps_are_timezone_aware(session, actor):
    entry = record_change(session, actor, "create", "indicator", "X-1")
    session.commit()
    session.expire_all()
    assert session.get(AuditEntry, entry.id).at.tzinfo is not None


def test_enums_are_stored_by_value(session, make_department, make_indicator):
    make_indicator(make_department())
    session.commit()
    raw = session.connection().exec_driver_sql("SELECT nature, state FROM indicators").one()
    assert tuple(raw) == ("定量", "active")

"""kb.services.personal: recently viewed is remembered, bounded, and never fails a page."""
from sqlalchemy import func, select

from kb.db import make_session_factory
from kb.models import RecentView, User
from kb.services import personal
from kb.vocab import Role


def make_user(session, name="viewer"):
    user = User(username=name, role=Role.EXPERT, password_hash="x")
    session.add(user)
    session.flush()
    return user


def test_views_are_remembered_latest_first_and_bounded(session, make_department, make_indicator):
    department = make_department()
    user = make_user(session)
    indicators = [make_indicator(department, code=f"V-{n:03d}") for n in range(personal.RECENT_LIMIT + 3)]
    for indicator in indicators:
        personal.record_view(session, user, indicator)
    personal.record_view(session, user, indicators[0])  # seen again: moves to the front, no second row
    session.commit()
    viewed = [indicator.code for indicator, _ in personal.recently_viewed(session, user)]
    assert viewed[0] == "V-000"
    assert len(viewed) == personal.RECENT_LIMIT == session.scalar(select(func.count()).select_from(RecentView))


def test_a_view_recorded_by_a_concurrent_request_does_not_fail(session, engine, make_department, make_indicator, monkeypatch):
    indicator = make_indicator(make_department())
    user = make_user(session)
    session.commit()
    # The other request of the same person inserts the row and commits first...
    with make_session_factory(engine)() as other:
        personal.record_view(other, other.get(User, user.id), other.get(type(indicator), indicator.id))
        other.commit()
    # ...while this request had already looked and seen no row (the race is lost at INSERT).
    real_scalar = session.scalar
    monkeypatch.setattr(session, "scalar", lambda statement, *a, **k: None
                        if "recent_views" in str(statement) else real_scalar(statement, *a, **k))
    personal.record_view(session, user, indicator)  # must not raise
    session.commit()
    assert session.execute(select(func.count()).select_from(RecentView)).scalar_one() == 1

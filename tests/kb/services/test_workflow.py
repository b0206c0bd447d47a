"""The set lifecycle: every transition, every refusal (role × state × action), versions and diffs."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kb.errors import InvalidTransition, KbError, PermissionDenied
from kb.models import AuditEntry
from kb.models.base import utcnow
from kb.services.indicators import update_indicator
from kb.services.sets import open_review
from kb.services.versions import diff_versions, set_content
from kb.services.workflow import (
    ACTIONS, allowed_actions, certification_reached, certify_set, confirm_set, perform,
    next_version_years, return_set, start_next_version, submit_set,
)
from kb.vocab import SetStatus
from tests.conftest import indicator_data
from tests.kb.services.workflow_world import build_world

ROLES = ("department", "other_department", "finance", "expert", "outsider_expert", "admin")
STATES = ("draft", "submitted", "confirmed", "certified", "superseded")
# The whole permission table: (role, state) pairs allowed per action; everything else is refused.
ALLOWED = {
    "submit": {("department", "draft")},
    "confirm": {("department", "submitted"), ("finance", "submitted")},
    "certify": {("expert", "confirmed")},
    "return": {("finance", "submitted"), ("finance", "confirmed"),
               ("expert", "submitted"), ("expert", "confirmed")},
    "start_next": {("department", "certified"), ("finance", "certified")},
}


@pytest.fixture
def world(session, make_department, make_indicator):
    return build_world(session, make_department, make_indicator)


def audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ROLES)
def test_transition_table(world, role, state, action):
    indicator_set = world.reach(state)
    world.session.commit()
    assert indicator_set.status == SetStatus(state)
    actor = world.a(role)
    expected = (role, state) in ALLOWED[action]
    assert (action in allowed_actions(world.session, actor, indicator_set)) is expected
    before = audit_count(world.session)
    if expected:
        perform(world.session, actor, indicator_set, action, reason="指标值偏低，请调整。")
        assert audit_count(world.session) > before
    else:
        with pytest.raises((PermissionDenied, InvalidTransition)) as caught:
            perform(world.session, actor, indicator_set, action, reason="指标值偏低，请调整。")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.message)  # a Chinese message
        world.session.rollback()
        assert indicator_set.status == SetStatus(state)
        assert audit_count(world.session) == before


def test_wrong_role_is_permission_denied_and_wrong_state_is_invalid_transition(world):
    indicator_set = world.current
    with pytest.raises(PermissionDenied):
        submit_set(world.session, world.a("finance"), indicator_set)
    with pytest.raises(PermissionDenied, match="三员分立"):
        submit_set(world.session, world.a("admin"), indicator_set)
    with pytest.raises(InvalidTransition, match="部门梳理中"):
        confirm_set(world.session, world.a("finance"), indicator_set)


def test_submit_records_department_confirmation_and_finance_confirms(world):
    indicator_set = world.current
    submit_set(world.session, world.a("department"), indicator_set)
    assert indicator_set.status == SetStatus.SUBMITTED
    assert indicator_set.submitted_by_id == world.users["department"].id
    assert indicator_set.department_confirmed_by_id == world.users["department"].id
    confirm_set(world.session, world.a("finance"), indicator_set)
    assert indicator_set.status == SetStatus.CONFIRMED
    assert indicator_set.finance_confirmed_by_id == world.users["finance"].id
    assert indicator_set.finance_confirmed_at >= indicator_set.department_confirmed_at
    actions = world.session.scalars(select(AuditEntry.action).where(AuditEntry.entity_key == "901 v1")).all()
    assert actions == ["submit", "confirm"]


def test_finance_edit_after_submission_needs_the_department_to_confirm_again(world):
    indicator_set = world.submitted(experts=())
    code = "T-001"
    indicator = next(i for i in world.own.indicators if i.code == code)
    update_indicator(world.session, world.a("finance"), code, indicator_data(code=code, name="资助覆盖率（财政协助修改）"),
                     indicator.row_version)
    with pytest.raises(InvalidTransition, match="重新确认"):
        confirm_set(world.session, world.a("finance"), indicator_set)
    confirm_set(world.session, world.a("department"), indicator_set)
    assert indicator_set.status == SetStatus.SUBMITTED
    confirm_set(world.session, world.a("finance"), indicator_set)
    assert indicator_set.status == SetStatus.CONFIRMED


def test_empty_set_cannot_be_submitted(world):
    indicator_set = world.other.current_set
    for indicator in list(world.other.indicators):
        world.session.delete(indicator)
    world.session.flush()
    with pytest.raises(InvalidTransition, match="还没有指标"):
        submit_set(world.session, world.a("other_department"), indicator_set)


def test_certify_freezes_content_and_closes_the_review(world):
    indicator_set = world.certified()
    assert indicator_set.status == SetStatus.CERTIFIED
    assert [item["code"] for item in indicator_set.frozen_indicators] == ["T-001", "T-002"]
    assert indicator_set.certified_by_id == world.users["expert"].id
    entry = world.session.scalars(select(AuditEntry).where(AuditEntry.action == "certify")).one()
    assert entry.after["indicators"] == 2


@pytest.mark.parametrize("rule, approvals_needed", [("all", 3), ("majority", 2)])
def test_certification_rule(world, rule, approvals_needed):
    experts = ("expert", "expert2", "expert3")
    indicator_set = world.confirmed(experts)
    results = [certify_set(world.session, world.a(name), indicator_set, rule) for name in experts[:approvals_needed]]
    assert results == [False] * (approvals_needed - 1) + [True]
    assert indicator_set.status == SetStatus.CERTIFIED


def test_certification_reached_counts():
    class Assignment:
        def __init__(self, decision):
            self.decision = decision

    class Review:
        assignments = [Assignment("certify"), Assignment(None)]

    assert not certification_reached(Review, "all")
    assert not certification_reached(Review, "majority")  # one of two is not more than half
    Review.assignments = []
    assert not certification_reached(Review, "all")
    with pytest.raises(ValueError):
        certification_reached(Review, "most")


def test_return_goes_back_to_draft_keeps_comments_and_resets_decisions(world):
    from kb.services.reviews import add_comment, comments_for

    indicator_set = world.confirmed(("expert", "expert2"))
    certify_set(world.session, world.a("expert"), indicator_set)
    add_comment(world.session, world.a("expert2"), indicator_set, "revise", "目标值偏低", indicator_code="T-002")
    with pytest.raises(InvalidTransition, match="退回理由"):
        return_set(world.session, world.a("expert2"), indicator_set, "  ")
    return_set(world.session, world.a("expert2"), indicator_set, "培训人次低于上年实际完成数")
    assert indicator_set.status == SetStatus.DRAFT
    assert indicator_set.submitted_at is None and indicator_set.finance_confirmed_at is None
    kinds = [c.kind.value for c in comments_for(world.session, indicator_set)]
    assert kinds == ["revise", "return"]
    decisions = {a.expert.username: a.decision for a in open_review(world.session, indicator_set).assignments}
    assert decisions == {"expert": None, "expert2": "return"}


def test_start_next_version_copies_and_certification_supersedes(world):
    first = world.certified()
    second = start_next_version(world.session, world.a("department"), world.own)
    assert (second.version, second.year, second.status, second.is_current) == (2, 2026, SetStatus.DRAFT, True)
    assert first.is_current is False and first.status == SetStatus.CERTIFIED
    assert [i["code"] for i in set_content(world.session, second)] == ["T-001", "T-002"]
    world.session.commit()
    world.certified()
    assert first.status == SetStatus.SUPERSEDED and first.superseded_at is not None
    assert second.status == SetStatus.CERTIFIED
    assert len(first.frozen_indicators) == 2  # published versions stay readable


def test_first_set_for_a_department_without_one(session, make_department, world):
    empty = make_department("903", "测试新部门", status=None)
    with pytest.raises(PermissionDenied):
        start_next_version(session, world.a("department"), empty)
    new = start_next_version(session, world.a("finance"), empty, year=2026)
    assert (new.version, new.year, new.status) == (1, 2026, SetStatus.DRAFT)


def test_diff_versions_field_by_field(world):
    first = world.certified()
    second = start_next_version(world.session, world.a("department"), world.own)
    world.session.commit()
    t2 = next(i for i in world.own.indicators if i.code == "T-002")
    update_indicator(world.session, world.a("department"), "T-002",
                     indicator_data(code="T-002", name="教师培训人次", target="350", unit="人次"), t2.row_version)
    from kb.services.indicators import create_indicator, retire_indicator

    create_indicator(world.session, world.a("department"), indicator_data(code="T-003", name="营养餐覆盖率"), world.own)
    t1 = next(i for i in world.own.indicators if i.code == "T-001")
    retire_indicator(world.session, world.a("department"), "T-001", t1.row_version, "政策到期")
    diff = diff_versions(world.session, first, second)
    assert [i["code"] for i in diff.added] == ["T-003"]
    assert [i["code"] for i in diff.removed] == ["T-001"]
    assert [(c.code, [(f[1], f[2], f[3]) for f in c.fields]) for c in diff.changed] == [
        ("T-002", [("指标值", "300", "350")])]
    reverse = diff_versions(world.session, second, first)
    assert [i["code"] for i in reverse.removed] == ["T-003"]
    assert diff_versions(world.session, first, first).is_empty


def test_diff_refuses_two_departments(world):
    with pytest.raises(KbError, match="同一部门"):
        diff_versions(world.session, world.own.current_set, world.other.current_set)


def test_two_people_acting_at_once_the_second_is_refused(world, engine):
    from kb.db import make_session_factory
    from kb.models import IndicatorSet

    indicator_set = world.submitted()
    world.session.commit()
    other = make_session_factory(engine)()
    try:
        stale = other.get(IndicatorSet, indicator_set.id)  # read before the first person acts
        confirm_set(world.session, world.a("finance"), indicator_set)
        world.session.commit()
        with pytest.raises(InvalidTransition, match="刚刚被他人处理"):
            return_set(other, world.a("finance"), stale, "同时退回")
        assert other.get(IndicatorSet, indicator_set.id).status == SetStatus.CONFIRMED  # usable after refusal
    finally:
        other.close()


def test_concurrent_expert_approvals_cannot_both_miss_each_other(world, engine):
    from kb.db import make_session_factory
    from kb.models import IndicatorSet

    indicator_set = world.confirmed(("expert", "expert2"))
    world.session.commit()
    other = make_session_factory(engine)()
    try:
        stale = other.get(IndicatorSet, indicator_set.id)
        open_review(other, stale).assignments  # both experts have read the review before either approves
        assert certify_set(world.session, world.a("expert"), indicator_set) is False
        world.session.commit()
        with pytest.raises(InvalidTransition, match="刚刚被他人处理"):
            certify_set(other, world.a("expert2"), stale)
        assert certify_set(other, world.a("expert2"), other.get(IndicatorSet, indicator_set.id)) is True
        other.commit()
    finally:
        other.close()


def test_a_new_version_may_stay_in_the_same_year_and_never_goes_back(world):
    """Issue 16: two 复制上年指标 minutes apart made 2026 第 2 版, then 2027 第 3 版."""
    first = world.certified()
    years, default = next_version_years(first, first.year)
    assert years == [first.year, first.year + 1] and default == first.year
    second = start_next_version(world.session, world.a("department"), world.own, year=first.year)
    assert (second.version, second.year) == (2, first.year)  # 动态调整 within the year
    world.session.commit()
    world.certified()
    with pytest.raises(InvalidTransition, match="不能早于"):
        start_next_version(world.session, world.a("department"), world.own, year=first.year - 1)
    third = start_next_version(world.session, world.a("department"), world.own)
    assert third.year == max(second.year, utcnow().year)  # this year by default, not one more each time


def test_certifying_over_open_suggestions_needs_a_recorded_reason(world):
    """Issue 16: an expert certified over their own open 建议删除; the department was then asked to answer."""
    from kb.services.inbox import inbox
    from kb.services.reviews import add_comment, answer_comment

    indicator_set = world.confirmed()
    removal = add_comment(world.session, world.a("expert"), indicator_set, "remove", "与 T-001 重复", indicator_code="T-002")
    with pytest.raises(InvalidTransition, match="建议删除 T-002"):
        certify_set(world.session, world.a("expert"), indicator_set)
    assert indicator_set.status == SetStatus.CONFIRMED
    assert certify_set(world.session, world.a("expert"), indicator_set, override_reason="下一版再调整，本版先用")
    entry = world.session.scalars(select(AuditEntry).where(AuditEntry.action == "expert_certify")).all()[-1]
    assert entry.after["overridden_comments"] == [removal.id] and "下一版再调整" in entry.summary
    # The set is frozen: the department is no longer asked to answer, nor can it.
    assert not [item for item in inbox(world.session, world.a("department")) if item.kind == "to_answer"]
    with pytest.raises(InvalidTransition, match="冻结"):
        answer_comment(world.session, world.a("department"), removal, "已删除")


def test_an_answered_suggestion_needs_no_reason(world):
    from kb.services.reviews import add_comment, answer_comment

    indicator_set = world.confirmed()
    revise = add_comment(world.session, world.a("expert"), indicator_set, "revise", "目标偏低", indicator_code="T-002")
    answer_comment(world.session, world.a("department"), revise, "下一年度按实际调高")
    assert certify_set(world.session, world.a("expert"), indicator_set)

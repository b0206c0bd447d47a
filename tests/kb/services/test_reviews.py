"""Expert review: assignment, per-indicator comments, answers, timeline."""
from __future__ import annotations

import datetime as dt

import pytest

from kb.errors import InvalidTransition, NotFound, PermissionDenied
from kb.models.workflow import CommentKind
from kb.services.reviews import (
    add_comment, answer_comment, assign_experts, comments_for, expert_reviews, open_comment_counts, review_summary,
    timeline,
)
from kb.services.sets import open_review
from kb.services.workflow import certify_set, return_set, submit_set
from tests.kb.services.workflow_world import build_world


@pytest.fixture
def world(session, make_department, make_indicator):
    return build_world(session, make_department, make_indicator)


def ids(world, *names):
    return [world.users[name].id for name in names]


def test_finance_assigns_experts_with_a_due_date(world):
    indicator_set = world.submitted(experts=())
    review = assign_experts(world.session, world.a("finance"), indicator_set, ids(world, "expert", "expert2"),
                            world.due(), "请重点看指标值")
    assert [a.expert.username for a in review.assignments] == ["expert", "expert2"]
    again = assign_experts(world.session, world.a("finance"), indicator_set, ids(world, "expert3"), world.due())
    assert again is review and len(review.assignments) == 3
    assert review_summary(review) == {"assigned": 3, "certified": 0, "waiting": 3}
    assert [r.id for r in expert_reviews(world.session, world.a("expert3"))] == [review.id]


@pytest.mark.parametrize("role", ["department", "expert", "admin"])
def test_only_finance_assigns(world, role):
    indicator_set = world.submitted(experts=())
    with pytest.raises(PermissionDenied):
        assign_experts(world.session, world.a(role), indicator_set, ids(world, "expert"), world.due())


def test_assignment_refusals(world):
    draft = world.current
    with pytest.raises(InvalidTransition, match="报送财政后"):
        assign_experts(world.session, world.a("finance"), draft, ids(world, "expert"), world.due())
    submit_set(world.session, world.a("department"), draft)
    with pytest.raises(InvalidTransition, match="专家账号"):
        assign_experts(world.session, world.a("finance"), draft, ids(world, "department"), world.due())
    with pytest.raises(InvalidTransition, match="早于今天"):
        assign_experts(world.session, world.a("finance"), draft, ids(world, "expert"),
                       dt.date.today() - dt.timedelta(days=1))
    with pytest.raises(InvalidTransition, match="至少"):
        assign_experts(world.session, world.a("finance"), draft, [], world.due())


def test_comments_per_indicator_and_on_the_set(world):
    indicator_set = world.submitted()
    session, expert = world.session, world.a("expert")
    add_comment(session, expert, indicator_set, "accept", indicator_code="T-001")
    revise = add_comment(session, expert, indicator_set, "revise", "目标值低于上年实际", indicator_code="T-002")
    add_comment(session, expert, indicator_set, "general", "整体较完整，缺少满意度指标")
    assert revise.indicator_name == "教师培训人次" and revise.is_open
    assert open_comment_counts(session) == {indicator_set.id: 2}
    with pytest.raises(InvalidTransition, match="理由"):
        add_comment(session, expert, indicator_set, "remove", " ", indicator_code="T-001")
    with pytest.raises(NotFound):
        add_comment(session, expert, indicator_set, "accept", indicator_code="T-101")
    with pytest.raises(InvalidTransition, match="具体指标"):
        add_comment(session, expert, indicator_set, "revise", "太笼统")
    with pytest.raises(PermissionDenied):
        add_comment(session, world.a("outsider_expert"), indicator_set, "general", "我也想说")
    with pytest.raises(PermissionDenied):
        add_comment(session, world.a("department"), indicator_set, "general", "部门不能评")


def test_department_answers_comments(world):
    indicator_set = world.submitted()
    comment = add_comment(world.session, world.a("expert"), indicator_set, "revise", "请提高目标值",
                          indicator_code="T-002")
    with pytest.raises(PermissionDenied):
        answer_comment(world.session, world.a("other_department"), comment, "已改")
    with pytest.raises(InvalidTransition, match="答复内容"):
        answer_comment(world.session, world.a("department"), comment, "")
    answer_comment(world.session, world.a("department"), comment, "已将目标值调整为 350 人次")
    assert not comment.is_open and comment.answered_by_name == "department"
    assert open_comment_counts(world.session) == {}
    accept = add_comment(world.session, world.a("expert"), indicator_set, CommentKind.ACCEPT, indicator_code="T-001")
    with pytest.raises(InvalidTransition, match="无需答复"):
        answer_comment(world.session, world.a("department"), accept, "谢谢")


def test_timeline_shows_transitions_comments_and_answers_in_order(world):
    indicator_set = world.confirmed(("expert", "expert2"))
    comment = add_comment(world.session, world.a("expert"), indicator_set, "revise", "请补充计算公式",
                          indicator_code="T-002")
    return_set(world.session, world.a("expert"), indicator_set, "公式缺失")
    answer_comment(world.session, world.a("department"), comment, "已补充公式")
    kinds = [event.kind for event in timeline(world.session, indicator_set)]
    assert kinds == ["submit", "assign_experts", "confirm", "comment", "return", "answer"]
    assert [c.kind for c in comments_for(world.session, indicator_set)] == [CommentKind.REVISE, CommentKind.RETURN]


def test_certified_review_is_closed_and_leaves_the_expert_inbox(world):
    indicator_set = world.confirmed()
    certify_set(world.session, world.a("expert"), indicator_set)
    assert open_review(world.session, indicator_set) is None
    assert expert_reviews(world.session, world.a("expert")) == []

"""kb.services.inbox: the badge count (``inbox_count``, counted in the database) always equals the
length of the list (``inbox``), for every role, in every state that produces a kind of item."""
from __future__ import annotations

import datetime as dt

import pytest

from kb.services import goal_reviews
from kb.services.change_requests import propose_change
from kb.services.inbox import inbox, inbox_count
from kb.services.indicators import update_indicator
from kb.services.reviews import add_comment, answer_comment, assign_experts
from kb.services.workflow import certify_set, confirm_set, return_set, submit_set
from tests.conftest import indicator_data
from tests.kb.services.test_goals import EXPERT, FINANCE, full_goal, world as goal_world  # noqa: F401  (fixture)
from tests.kb.services.workflow_world import build_world

SET_KINDS = {"to_submit", "returned", "to_answer", "to_reconfirm", "to_confirm", "to_assign", "review_overdue",
             "change_request", "to_review", "answered"}
GOAL_KINDS = {"goal_to_review", "goal_to_decide", "goal_returned"}


class Checker:
    """Compares count and list for every actor at each step, and remembers which kinds it saw."""

    def __init__(self, session, actors):
        self.session, self.actors, self.seen = session, actors, set()

    def __call__(self, today: dt.date | None = None) -> dict[str, int]:
        self.session.flush()
        counts = {}
        for name, actor in self.actors.items():
            items = inbox(self.session, actor, today=today)
            counts[name] = inbox_count(self.session, actor, today=today)
            assert counts[name] == len(items), (name, [item.kind for item in items])
            self.seen.update(item.kind for item in items)
        return counts


@pytest.fixture
def set_world(session, make_department, make_indicator):
    return build_world(session, make_department, make_indicator)


def test_count_equals_the_list_through_the_set_workflow(set_world, make_indicator):
    world = set_world
    check = Checker(world.session, world.actors)
    assert check()["department"] == 1  # to_submit
    indicator_set = world.submitted(experts=())
    assert check()["finance"] == 2  # to_confirm, to_assign
    world.session.rollback()
    indicator_set = world.submitted()
    add_comment(world.session, world.a("expert"), indicator_set, "accept", "同意", indicator_code="T-002")
    assert check()["department"] == 0  # an 同意 needs no answer
    later = dt.date.today() + dt.timedelta(days=30)
    assert check(today=later)["finance"] == 2  # to_confirm, review_overdue
    assert check(today=world.due())["finance"] == 1  # due today is not overdue yet
    make_indicator(None, code="GX-001", name="资金到位率")
    propose_change(world.session, world.a("department"), "retire", "GX-001", "已废止")
    t1 = next(i for i in world.own.indicators if i.code == "T-001")
    update_indicator(world.session, world.a("finance"), "T-001", indicator_data(code="T-001", name="改名"),
                     t1.row_version)
    assert check()["department"] == 1  # to_reconfirm
    comment = add_comment(world.session, world.a("expert"), indicator_set, "revise", "请细化", indicator_code="T-001")
    return_set(world.session, world.a("finance"), indicator_set, "请按专家意见修改")
    assert check()["department"] == 2  # returned, to_answer
    answer_comment(world.session, world.a("department"), comment, "已细化")
    submit_set(world.session, world.a("department"), indicator_set)
    assert check()["expert"] == 2  # to_review, answered
    assert check(today=later)["expert"] == 2
    add_comment(world.session, world.a("expert"), indicator_set, "general", "整体可行")
    assert check()["department"] == 1  # to_answer
    confirm_set(world.session, world.a("finance"), indicator_set)
    assert check()["finance"] == 1  # confirmed, with its review under way: only the change request
    assign_experts(world.session, world.a("finance"), indicator_set, [world.users["expert2"].id], world.due())
    certify_set(world.session, world.a("expert"), indicator_set)
    assert check()["expert"] == 0 and check()["expert2"] == 1  # decided: done; expert2 still to review
    certify_set(world.session, world.a("expert2"), indicator_set)
    assert check()["department"] == 0  # certified: an open comment is no longer work
    assert inbox_count(world.session, world.a("admin")) == 0
    assert check.seen == SET_KINDS


def test_count_equals_the_list_through_the_goal_review(session, goal_world):
    officer = goal_world[2]
    check = Checker(session, {"department": officer, "finance": FINANCE, "expert": EXPERT})
    goal = full_goal(session, goal_world)
    assert check() == {"department": 1, "finance": 0, "expert": 0}  # the department's draft set: to_submit
    goal_reviews.submit_goal(session, officer, goal, goal.row_version)
    assert check() == {"department": 1, "finance": 1, "expert": 1}  # goal_to_review for both
    goal_reviews.review_goal(session, EXPERT, goal, "良")
    assert check() == {"department": 1, "finance": 1, "expert": 0}
    goal_reviews.review_goal(session, FINANCE, goal, "良")
    assert check()["finance"] == 1  # goal_to_decide
    goal_reviews.return_goal(session, FINANCE, goal, "请补充满意度调查方式")
    assert check() == {"department": 2, "finance": 0, "expert": 0}  # goal_returned
    goal_reviews.submit_goal(session, officer, goal)
    assert check() == {"department": 1, "finance": 1, "expert": 1}  # a new round: to review again
    assert check.seen == GOAL_KINDS | {"to_submit"}

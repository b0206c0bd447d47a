"""kb.services.goal_reviews: submit (blocked by quality errors), review 优/良/中/差 with row comments,
return, resubmit, approve (freezes)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.errors import InvalidTransition, PermissionDenied, ValidationFailed
from kb.models import AuditEntry
from kb.models.goal import GoalStatus
from kb.services import goal_reviews, goals
from tests.kb.services.test_goals import EXPERT, FINANCE, full_goal, new_goal, world  # noqa: F401  (fixture)


def test_submit_refuses_while_errors_remain_and_lists_them(session, world):
    goal = new_goal(session, world)
    goals.add_indicators(session, world[2], goal, ["WJ-001"])
    with pytest.raises(ValidationFailed) as error:
        goal_reviews.submit_goal(session, world[2], goal)
    text = str(error.value)
    assert "效益指标" in text and "少于 3 个" in text
    assert goal.status == GoalStatus.DRAFT


def test_review_workflow_return_resubmit_approve_freezes(session, world):
    goal = full_goal(session, world)
    assert goals.check(session, goals.goal_to_dict(goal)) == []
    goal_reviews.submit_goal(session, world[2], goal, goal.row_version)
    assert goal.status == GoalStatus.SUBMITTED and goal.review_round == 1
    with pytest.raises(InvalidTransition):
        goals.save_goal(session, world[2], goal, {"annual_objective": "x"})
    with pytest.raises(PermissionDenied):
        goal_reviews.review_goal(session, world[2], goal, "优")
    row = goal.rows[0]
    goal_reviews.review_goal(session, EXPERT, goal, "中", "接种率目标偏低", {row.id: "参考上年实际值调高"})
    with pytest.raises(InvalidTransition):
        goal_reviews.approve_goal(session, FINANCE, goal)
    with pytest.raises(PermissionDenied):
        goal_reviews.return_goal(session, EXPERT, goal, "请修改")
    with pytest.raises(ValidationFailed):
        goal_reviews.return_goal(session, FINANCE, goal, " ")
    goal_reviews.return_goal(session, FINANCE, goal, "按专家意见修改接种率")
    assert goal.status == GoalStatus.RETURNED and row.comments[0].text == "参考上年实际值调高"
    rows = goals.goal_to_dict(goal)["rows"]
    rows[0]["target"] = "95"
    goals.save_goal(session, world[2], goal, {"rows": rows})
    assert goal.rows[0].comments, "a row keeps its review comments when saved"
    goal_reviews.submit_goal(session, world[2], goal)
    assert goal.review_round == 2 and goal.current_reviews == []
    with pytest.raises(InvalidTransition):
        goal_reviews.approve_goal(session, FINANCE, goal)
    goal_reviews.review_goal(session, EXPERT, goal, "良", "已按意见修改")
    goal_reviews.review_goal(session, FINANCE, goal, "优")
    goal_reviews.approve_goal(session, FINANCE, goal)
    assert goal.status == GoalStatus.APPROVED and goal.approved_by == "财政甲"
    assert goal.frozen["rows"][0]["target"] == "95" and len(goal.frozen["reviews"]) == 3
    with pytest.raises(InvalidTransition):
        goals.add_indicators(session, FINANCE, goal, ["MZ-021"])
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "goal")
                              .order_by(AuditEntry.id)).all()
    assert actions[-4:] == ["submit", "review", "review", "approve"]


def test_invalid_verdict_and_department_cannot_decide(session, world):
    goal = full_goal(session, world)
    goal_reviews.submit_goal(session, world[2], goal)
    with pytest.raises(ValidationFailed):
        goal_reviews.review_goal(session, EXPERT, goal, "很好")
    with pytest.raises(PermissionDenied):
        goal_reviews.approve_goal(session, world[2], goal)


def test_submitted_goals_reach_the_reviewers_inbox_until_they_act(session, world):
    """Issue 16: a submitted goal reached nobody's 待办."""
    from kb.services.inbox import inbox

    def goal_items(actor):
        return [(item.kind, item.target) for item in inbox(session, actor) if item.target[0] == "goal"]

    goal = full_goal(session, world)
    assert goal_items(EXPERT) == goal_items(FINANCE) == []
    goal_reviews.submit_goal(session, world[2], goal, goal.row_version)
    assert goal_items(EXPERT) == [("goal_to_review", ("goal", goal.id))]
    assert goal_items(FINANCE) == [("goal_to_review", ("goal", goal.id))]
    goal_reviews.review_goal(session, EXPERT, goal, "良")
    assert goal_items(EXPERT) == []  # done with it
    assert goal_items(FINANCE) == [("goal_to_review", ("goal", goal.id))]
    goal_reviews.review_goal(session, FINANCE, goal, "良")
    assert goal_items(FINANCE) == [("goal_to_decide", ("goal", goal.id))]
    goal_reviews.return_goal(session, FINANCE, goal, "请补充满意度调查方式")
    assert goal_items(FINANCE) == [] and goal_items(world[2]) == [("goal_returned", ("goal", goal.id))]

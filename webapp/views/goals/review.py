"""目标申报 review: the read-only goal, submitting, reviews and the decision."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from kb import permissions
from kb.errors import ValidationFailed
from kb.models import PerformanceGoal
from kb.models.goal import GoalStatus, Verdict
from kb.services import goal_reviews, goals
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.views.goals import bp, load_goal


@bp.get("/<int:goal_id>")
def view(goal_id: int):
    """绩效目标（只读）：指标表、逐行评审意见、评审记录；评审、退回、审定。"""
    session, actor = get_session(), current_actor()
    goal = load_goal(goal_id)
    data = goal.frozen if goal.status == GoalStatus.APPROVED and goal.frozen else goals.goal_to_dict(goal)
    return render_template(
        "goals/view.html", goal=goal, data=data, findings=goals.check(session, data),
        can_edit=permissions.can_edit_goal(actor, goal), can_review=permissions.can_review_goal(actor, goal),
        can_decide=permissions.can_decide_goal(actor, goal), verdicts=list(Verdict),
        comments={row.id: row.comments for row in goal.rows},
    )


@bp.post("/<int:goal_id>/submit")
def submit(goal_id: int):
    """提交评审（有必须改正的问题时不提交，并说明原因）。"""
    return submit_for_review(load_goal(goal_id))


@bp.post("/<int:goal_id>/review")
def review(goal_id: int):
    """财政或专家的评审：审核结论（优/良/中/差）、总体意见、逐行意见。"""
    session = get_session()
    goal = load_goal(goal_id)
    comments = {int(key.removeprefix("comment_")): value for key, value in request.form.items()
                if key.startswith("comment_") and key.removeprefix("comment_").isdigit()}
    goal_reviews.review_goal(session, current_actor(), goal, request.form.get("verdict", ""),
                      request.form.get("summary", ""), comments)
    session.commit()
    flash("评审意见已记录。", "success")
    return redirect(url_for("goals.view", goal_id=goal.id))


@bp.post("/<int:goal_id>/decide")
def decide(goal_id: int):
    """财政决定：退回修改，或审定（冻结）。"""
    session, actor = get_session(), current_actor()
    goal = load_goal(goal_id)
    if request.form.get("decision") == "approve":
        goal_reviews.approve_goal(session, actor, goal)
        message = "已审定，绩效目标已冻结，可导出申报表。"
    elif request.form.get("decision") == "return":
        goal_reviews.return_goal(session, actor, goal, request.form.get("reason", ""))
        message = "已退回部门修改。"
    else:
        abort(400)
    session.commit()
    flash(message, "success")
    return redirect(url_for("goals.view", goal_id=goal.id))


def submit_for_review(goal: PerformanceGoal):
    """Submit (from the read-only page or the editor); with errors left, back to the editor."""
    session, actor = get_session(), current_actor()
    try:
        warnings = goal_reviews.submit_goal(session, actor, goal)
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        flash(f"已保存，但还没有提交：还有 {len(error.problems)} 处必须改正的问题（见右侧“质量检查”）。", "error")
        return redirect(url_for("goals.edit", goal_id=goal.id))
    note = f"另有 {len(warnings)} 条提示，评审时会关注。" if warnings else ""
    flash(f"已提交评审。{note}", "success")
    return redirect(url_for("goals.view", goal_id=goal.id))

"""The 部门＋财政＋专家 review of performance goals: submit (only when no quality error remains),
review with a verdict (优/良/中/差) and comments per row, return for revision, approve (freezes).

Services take ``session`` first, flush, never commit; every step is audited.
"""
from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from kb import quality
from kb.errors import InvalidTransition, PermissionDenied, Problem, ValidationFailed
from kb.models import GoalReview, GoalRowComment, PerformanceGoal
from kb.models.base import utcnow
from kb.models.goal import GoalStatus, Verdict
from kb.permissions import can_decide_goal, can_review_goal
from kb.services.audit import Actor, record_change
from kb.services.goals import SOURCE, check_goal_version, require_editable, touch_goal, check, goal_to_dict

def submit_goal(session: Session, actor: Actor, goal: PerformanceGoal, expected_version: int | None = None) -> list[quality.Finding]:
    """Submit for review; refused with every error finding listed while any remains. Returns warnings."""
    require_editable(actor, goal)
    check_goal_version(goal, expected_version)
    findings = check(session, goal_to_dict(goal))
    errors = [f for f in findings if f.is_error]
    if errors:
        raise ValidationFailed([Problem(f"{f.message} 建议：{f.fix}", SOURCE, f"第 {f.row} 行" if f.row else "",
                                        f.field) for f in errors])
    before = goal.status.value
    goal.status, goal.submitted_at, goal.submitted_by = GoalStatus.SUBMITTED, utcnow(), actor.username
    goal.review_round += 1
    touch_goal(goal)
    session.flush()
    record_change(session, actor, "submit", "goal", str(goal.id), before={"status": before},
                  after={"status": goal.status.value, "warnings": len(findings)}, summary=goal.project.name)
    return findings


def review_goal(session: Session, actor: Actor, goal: PerformanceGoal, verdict: str, summary: str = "",
                row_comments: Mapping[int, str] | None = None) -> GoalReview:
    """Record one reviewer's verdict (优/良/中/差) and comments per row for the current round."""
    if not can_review_goal(actor, goal):
        if goal.status != GoalStatus.SUBMITTED:
            raise InvalidTransition(f"绩效目标处于“{goal.status.label}”状态，只有已提交评审的目标才能评审。")
        raise PermissionDenied("只有财政和专家可以评审绩效目标。")
    if verdict not in {v.value for v in Verdict}:
        raise ValidationFailed([Problem("审核结论只能是 优、良、中、差 之一。", SOURCE, "评审", "verdict")])
    rows = {row.id: row for row in goal.rows}
    comments = {int(k): str(v).strip() for k, v in (row_comments or {}).items() if str(v or "").strip()}
    unknown = [k for k in comments if k not in rows]
    if unknown:
        raise ValidationFailed([Problem("评审意见对应的指标行不存在，请刷新页面后重新填写。", SOURCE, "评审")])
    review = GoalReview(goal=goal, round=goal.review_round, reviewer=actor.username, reviewer_role=actor.role.value,
                        verdict=Verdict(verdict), summary=str(summary or "").strip())
    session.add(review)
    for row_id, text in comments.items():
        session.add(GoalRowComment(row=rows[row_id], review=review, author=actor.username, text=text))
    touch_goal(goal)
    session.flush()
    record_change(session, actor, "review", "goal", str(goal.id),
                  after={"verdict": verdict, "summary": review.summary, "row_comments": len(comments)},
                  summary=f"{goal.project.name}：{verdict}")
    return review


def return_goal(session: Session, actor: Actor, goal: PerformanceGoal, reason: str) -> PerformanceGoal:
    """Send a submitted goal back to the department for revision (审核结论 中/差, or on request)."""
    if not can_decide_goal(actor, goal):
        raise _decision_refused(goal, "退回")
    reason = str(reason or "").strip()
    if not reason:
        raise ValidationFailed([Problem("请写明退回原因和修改要求。", SOURCE, "退回", "reason")])
    goal.status, goal.returned_at = GoalStatus.RETURNED, utcnow()
    touch_goal(goal)
    session.flush()
    record_change(session, actor, "return", "goal", str(goal.id), before={"status": "submitted"},
                  after={"status": goal.status.value, "reason": reason}, summary=reason)
    return goal


def approve_goal(session: Session, actor: Actor, goal: PerformanceGoal) -> PerformanceGoal:
    """Approve (审定) a reviewed goal and freeze what was agreed; needs a 优/良 verdict and no 中/差."""
    if not can_decide_goal(actor, goal):
        raise _decision_refused(goal, "审定")
    verdicts = [review.verdict for review in goal.current_reviews]
    if not verdicts:
        raise InvalidTransition("还没有财政或专家的评审结论，请先评审（优/良/中/差）再审定。")
    if not all(verdict.allows_approval for verdict in verdicts):
        raise InvalidTransition("本轮评审中有“中”或“差”的结论：请退回部门修改后重新报审。")
    goal.status, goal.approved_at, goal.approved_by = GoalStatus.APPROVED, utcnow(), actor.username
    goal.frozen = goal_to_dict(goal)
    touch_goal(goal)
    session.flush()
    record_change(session, actor, "approve", "goal", str(goal.id), before={"status": "submitted"},
                  after={"status": goal.status.value}, summary=goal.project.name)
    return goal


def _decision_refused(goal: PerformanceGoal, action: str) -> Exception:
    if goal.status != GoalStatus.SUBMITTED:
        return InvalidTransition(f"绩效目标处于“{goal.status.label}”状态，不能{action}。")
    return PermissionDenied(f"只有财政可以{action}绩效目标。")

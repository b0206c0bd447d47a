"""Expert review (专家审定): finance assigns experts with a due date; reviewers comment per indicator
(同意 / 建议修改 / 建议删除) or on the whole set; the department answers each comment.

Certification itself is a transition of the set (:func:`kb.services.workflow.certify_set`), with the
rule “all assigned experts” or “a majority” chosen by the setting ``REVIEW_CERTIFICATION_RULE``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kb import permissions
from kb.errors import InvalidTransition, NotFound, PermissionDenied
from kb.models import AuditEntry, IndicatorSet, ReviewAssignment, ReviewComment, ReviewRequest, User
from kb.models.base import utcnow
from kb.models.workflow import CommentKind
from kb.services.audit import Actor, record_change
from kb.services.versions import set_content
from kb.services.sets import assignment_of, open_review, set_key, set_label
from kb.vocab import Role, SetStatus

REVIEWABLE = (SetStatus.SUBMITTED, SetStatus.CONFIRMED)


def list_experts(session: Session) -> list[User]:
    """Active expert accounts, for the assignment form."""
    return list(session.scalars(
        select(User).where(User.role == Role.EXPERT, User.is_active.is_(True)).order_by(User.username)
    ))


def assign_experts(session: Session, actor: Actor, indicator_set: IndicatorSet, expert_ids: list[int],
                   due_on: dt.date, note: str = "") -> ReviewRequest:
    """Finance invites experts to review a submitted or confirmed set by ``due_on``.

    Adding experts to a set that already has an open review extends that review.
    """
    if not permissions.can_assign_experts(actor):
        raise PermissionDenied("只有财政用户可以分派评审专家。")
    if indicator_set.status not in REVIEWABLE:
        raise InvalidTransition(
            f"{set_label(indicator_set)}当前为“{indicator_set.status.label}”，部门报送财政后才能分派专家评审。"
        )
    if not expert_ids:
        raise InvalidTransition("请至少选择一位评审专家。")
    experts = session.scalars(select(User).where(User.id.in_(expert_ids))).all()
    not_experts = [u.username for u in experts if not permissions.is_expert(u) or not u.is_active]
    if len(experts) != len(set(expert_ids)) or not_experts:
        raise InvalidTransition(f"所选账号不是有效的专家账号：{'、'.join(not_experts) or '账号不存在'}，请重新选择。")
    if due_on < utcnow().date():
        raise InvalidTransition("评审截止日期不能早于今天，请重新选择日期。")
    review = open_review(session, indicator_set)
    before = None
    if review is None:
        review = ReviewRequest(indicator_set=indicator_set, requested_by_id=actor.user_id, due_on=due_on, note=note)
        session.add(review)
    else:
        before = {"experts": [a.expert.username for a in review.assignments], "due_on": review.due_on.isoformat()}
        review.due_on = due_on
        review.note = note or review.note
    assigned = {a.expert_id for a in review.assignments}
    for expert in experts:
        if expert.id not in assigned:
            review.assignments.append(ReviewAssignment(expert_id=expert.id, expert=expert))
    session.flush()
    names = [a.expert.username for a in review.assignments]
    record_change(session, actor, "assign_experts", "indicator_set", set_key(indicator_set), before=before,
                  after={"experts": names, "due_on": due_on.isoformat()},
                  summary=f"分派专家 {'、'.join(names)} 评审{set_label(indicator_set)}，{due_on:%Y-%m-%d} 前完成")
    return review


def can_comment(session: Session, actor: Actor, indicator_set: IndicatorSet) -> bool:
    """Finance and the assigned experts comment while the set is under review."""
    return permissions.can_comment_set(actor, indicator_set,
                                       assigned=assignment_of(session, actor, indicator_set) is not None)


def add_comment(session: Session, actor: Actor, indicator_set: IndicatorSet, kind: CommentKind | str,
                body: str = "", indicator_code: str | None = None) -> ReviewComment:
    """A reviewer's opinion on one indicator (accept / revise / remove, with a reason) or the set."""
    kind = CommentKind(kind)
    if kind == CommentKind.RETURN:
        raise InvalidTransition("退回请使用“退回”操作并填写理由。")
    if not permissions.can_return_set(actor, assigned=assignment_of(session, actor, indicator_set) is not None):
        raise PermissionDenied("只有财政和受邀评审的专家可以提出评审意见。")
    if indicator_set.status not in REVIEWABLE:
        raise InvalidTransition(f"{set_label(indicator_set)}当前为“{indicator_set.status.label}”，不在评审中，不能提意见。")
    body = (body or "").strip()
    name = ""
    if indicator_code:
        item = next((i for i in set_content(session, indicator_set) if i["code"] == indicator_code), None)
        if item is None:
            raise NotFound(f"指标 {indicator_code} 不在{set_label(indicator_set)}中，请刷新页面后重试。")
        name = item["name"]
        if kind == CommentKind.GENERAL:
            raise InvalidTransition("针对具体指标请选择“同意”“建议修改”或“建议删除”。")
    elif kind != CommentKind.GENERAL:
        raise InvalidTransition("“同意/建议修改/建议删除”针对具体指标，请在指标行上提出；整体意见请选择“整体意见”。")
    if kind != CommentKind.ACCEPT and not body:
        raise InvalidTransition(f"“{kind.label}”需要写明理由，部门才能据此修改。")
    comment = ReviewComment(indicator_set=indicator_set, indicator_code=indicator_code or None, indicator_name=name,
                            kind=kind, body=body, author_id=actor.user_id, author_name=actor.username,
                            author_role=actor.role.value)
    session.add(comment)
    session.flush()
    record_change(session, actor, "comment", "indicator_set", set_key(indicator_set),
                  after={"comment": comment.id, "kind": kind.value, "indicator": indicator_code, "body": body},
                  summary=f"{kind.label}：{indicator_code or '整体'} {body}")
    return comment


def get_comment(session: Session, comment_id: int) -> ReviewComment:
    comment = session.get(ReviewComment, comment_id)
    if comment is None:
        raise NotFound(f"评审意见 {comment_id} 不存在，请刷新页面。")
    return comment


def answer_comment(session: Session, actor: Actor, comment: ReviewComment, answer: str) -> ReviewComment:
    """The department answers a comment (how it was handled); answering again replaces the answer."""
    department = comment.indicator_set.department
    if not permissions.can_answer_comments(actor, comment.indicator_set):
        raise PermissionDenied(f"只有{department.name}的部门用户可以答复该意见。")
    if not comment.kind.needs_answer:
        raise InvalidTransition("“同意”类意见无需答复。")
    if comment.indicator_set.status in (SetStatus.CERTIFIED, SetStatus.SUPERSEDED):
        raise InvalidTransition("该版本指标集已审定冻结，意见不再需要答复；需要修改时请开始新版本。")
    answer = (answer or "").strip()
    if not answer:
        raise InvalidTransition("请填写答复内容，例如“已按意见修改指标值”或说明不修改的理由。")
    before = {"answer": comment.answer} if comment.answer is not None else None
    comment.answer, comment.answered_by_name, comment.answered_at = answer, actor.username, utcnow()
    session.flush()
    record_change(session, actor, "answer", "indicator_set", set_key(comment.indicator_set), before=before,
                  after={"comment": comment.id, "answer": answer}, summary=f"答复意见 {comment.id}：{answer}")
    return comment


def comments_for(session: Session, indicator_set: IndicatorSet) -> list[ReviewComment]:
    """Every comment on the set, oldest first (returns and answers included)."""
    return list(session.scalars(
        select(ReviewComment).where(ReviewComment.set_id == indicator_set.id).order_by(ReviewComment.id)
    ))


def open_comment_counts(session: Session) -> dict[int, int]:
    """Unanswered comments per set id."""
    rows = session.execute(
        select(ReviewComment.set_id, func.count())
        .where(ReviewComment.answer.is_(None), ReviewComment.kind != CommentKind.ACCEPT)
        .group_by(ReviewComment.set_id)
    ).all()
    return dict(rows)


@dataclass
class TimelineEvent:
    at: dt.datetime
    actor: str
    role: str
    kind: str  # the audit action or "comment"/"answer"
    text: str
    comment: ReviewComment | None = None


def timeline(session: Session, indicator_set: IndicatorSet) -> list[TimelineEvent]:
    """The set's history, oldest first: transitions and assignments from the audit log, comments
    and their answers from the review records."""
    events = []
    entries = session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "indicator_set", AuditEntry.entity_key == set_key(indicator_set),
            # Comments, answers and return reasons come from the review records below.
            AuditEntry.action.not_in(("comment", "answer", "return")),
        ).order_by(AuditEntry.id)
    )
    for entry in entries:
        events.append(TimelineEvent(entry.at, entry.actor, entry.actor_role, entry.action, entry.summary))
    for comment in comments_for(session, indicator_set):
        kind = "return" if comment.kind == CommentKind.RETURN else "comment"
        events.append(TimelineEvent(comment.created_at, comment.author_name, comment.author_role, kind,
                                    comment.body, comment))
        if comment.answered_at:
            events.append(TimelineEvent(comment.answered_at, comment.answered_by_name or "", Role.DEPARTMENT.value, "answer",
                                        comment.answer or "", comment))
    return sorted(events, key=lambda event: event.at)


def reviews_for(session: Session, indicator_set: IndicatorSet) -> list[ReviewRequest]:
    return list(session.scalars(
        select(ReviewRequest).where(ReviewRequest.set_id == indicator_set.id).order_by(ReviewRequest.id)
    ))


def review_summary(review: ReviewRequest | None) -> dict[str, Any]:
    """Counts for display: assigned, certified, returned, waiting."""
    if review is None:
        return {"assigned": 0, "certified": 0, "waiting": 0}
    certified = sum(1 for a in review.assignments if a.decision and a.decision.value == "certify")
    waiting = sum(1 for a in review.assignments if a.decision is None)
    return {"assigned": len(review.assignments), "certified": certified, "waiting": waiting}


def expert_reviews(session: Session, actor: Actor) -> list[ReviewRequest]:
    """Open reviews the expert is assigned to, soonest due first."""
    if actor.user_id is None:
        return []
    return list(session.scalars(
        select(ReviewRequest).join(ReviewAssignment)
        .where(ReviewAssignment.expert_id == actor.user_id, ReviewRequest.status == "open",
               or_(ReviewAssignment.decision.is_(None), ReviewAssignment.decision != "certify"))
        .order_by(ReviewRequest.due_on)
    ))

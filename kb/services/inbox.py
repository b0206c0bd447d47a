"""待办: what waits for a user — sets to submit, confirm or review, comments to answer, requests to decide.

Computed from the workflow state every time (nothing to keep in sync): an item disappears as soon as
the work is done.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from sqlalchemy import ScalarSelect, Select, bindparam, exists, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from kb import permissions
from kb.models import (
    BudgetProject, ChangeRequest, Department, IndicatorSet, PerformanceGoal, ReviewAssignment, ReviewComment,
    ReviewRequest,
)
from kb.models.goal import GoalReview, GoalStatus
from kb.models.base import utcnow
from kb.models.workflow import ChangeStatus, CommentKind, ReviewStatus
from kb.services.audit import Actor
from kb.services.reviews import open_comment_counts
from kb.services.sets import set_label
from kb.services.workflow import department_must_reconfirm
from kb.vocab import SetStatus


@dataclass
class InboxItem:
    """One thing to do. ``target`` is ``("set", id)``, ``("change_request", id)`` or ``("goal", id)``."""

    kind: str
    title: str
    detail: str
    target: tuple[str, int]
    due_on: dt.date | None = None
    urgent: bool = False


def inbox(session: Session, actor: Actor, today: dt.date | None = None) -> list[InboxItem]:
    """Everything waiting for ``actor``, most urgent first."""
    today = today or utcnow().date()
    # Each role's own work; an administrator has no workflow duties (kb.permissions), so no inbox.
    if permissions.is_department(actor):
        items = _department_items(session, actor) + _returned_goals(session, actor)
    elif permissions.is_finance(actor):
        items = _finance_items(session, today) + _goals_to_review(session, actor)
    elif permissions.is_expert(actor):
        items = _expert_items(session, actor, today) + _goals_to_review(session, actor)
    else:
        items = []
    return sorted(items, key=lambda item: (not item.urgent, item.due_on or dt.date.max))


def inbox_count(session: Session, actor: Actor, today: dt.date | None = None) -> int:
    """How many items wait (the badge next to 待办): ``len(inbox(...))``, counted by the database.

    The badge is on every page, so it builds no items and loads no objects: one query per role (a
    department whose submitted set may need reconfirming: two). Each count mirrors one ``_*_items``
    function below; tests/kb/services/test_inbox.py keeps the two equal for every kind of item.
    """
    if permissions.is_department(actor):
        return _department_count(session, actor)
    if permissions.is_finance(actor):
        work = "finance"
    elif permissions.is_expert(actor):
        work = "expert" if actor.user_id is not None else "goals"
    else:
        return 0
    values = {"today": today or utcnow().date(), "user_id": actor.user_id, "username": actor.username}
    return sum(session.execute(_counts_statement(work, permissions.can_decide_goal(actor)), values).one())


def _count(entity, *where) -> ScalarSelect[int]:
    return select(func.count()).select_from(entity).where(*where).scalar_subquery()


@cache
def _counts_statement(work: str, decides_goals: bool) -> Select:
    """A finance officer's or an expert's counts, built once: composing them costs more than running them."""
    reviewable = (IndicatorSet.is_current.is_(True),
                  IndicatorSet.status.in_((SetStatus.SUBMITTED, SetStatus.CONFIRMED)))
    counts = []
    if work == "finance":  # _finance_items
        open_review = (ReviewRequest.set_id == IndicatorSet.id, ReviewRequest.status == ReviewStatus.OPEN)
        counts += [
            _count(IndicatorSet, *reviewable, IndicatorSet.status == SetStatus.SUBMITTED),  # to_confirm
            _count(IndicatorSet, *reviewable, ~exists().where(*open_review)),  # to_assign
            _count(IndicatorSet, *reviewable, exists().where(*open_review, ReviewRequest.due_on < bindparam("today"))),
            _count(ChangeRequest, ChangeRequest.status == ChangeStatus.PENDING),
        ]
    elif work == "expert":  # _expert_items
        assigned = (ReviewRequest.__table__.join(ReviewAssignment.__table__).join(IndicatorSet.__table__),
                    ReviewAssignment.expert_id == bindparam("user_id"), ReviewRequest.status == ReviewStatus.OPEN,
                    ReviewAssignment.decision.is_(None), reviewable[1])
        since = aliased(ReviewRequest)  # answered after any open review of the set began, as in _expert_items
        answered = exists().where(
            ReviewComment.set_id == ReviewRequest.set_id, ReviewComment.author_id == bindparam("user_id"),
            ReviewComment.answered_at.is_not(None), since.set_id == ReviewComment.set_id,
            since.status == ReviewStatus.OPEN, ReviewComment.answered_at > since.requested_at)
        counts += [_count(*assigned), _count(*assigned, answered)]  # to_review, answered
    # _goals_to_review: finance has every submitted goal to review or (once reviewed) to decide.
    submitted = PerformanceGoal.status == GoalStatus.SUBMITTED
    reviewed = exists().where(GoalReview.goal_id == PerformanceGoal.id, GoalReview.reviewer == bindparam("username"),
                              GoalReview.round == PerformanceGoal.review_round)
    counts.append(_count(PerformanceGoal, submitted) if decides_goals
                  else _count(PerformanceGoal, submitted, ~reviewed))
    return select(*counts)


@cache
def _department_statement() -> Select:
    """The department with its current set, if any (outer join: its returned goals count either way)."""
    open_comments = _count(ReviewComment, ReviewComment.set_id == IndicatorSet.id, ReviewComment.answer.is_(None),
                           ReviewComment.kind != CommentKind.ACCEPT)
    returned_goals = _count(PerformanceGoal.__table__.join(BudgetProject.__table__),
                            BudgetProject.department_id == bindparam("department_id"),
                            PerformanceGoal.status == GoalStatus.RETURNED)
    return (select(returned_goals.label("returned_goals"), IndicatorSet.status, IndicatorSet.department_id,
                   IndicatorSet.department_confirmed_at, open_comments.label("open_comments"))
            .select_from(Department)
            .outerjoin(IndicatorSet, (IndicatorSet.department_id == Department.id) & IndicatorSet.is_current.is_(True))
            .where(Department.id == bindparam("department_id")))


def _department_count(session: Session, actor: Actor) -> int:
    row = session.execute(_department_statement(), {"department_id": actor.department_id}).first()
    if row is None:
        return 0
    status = row.status
    count = row.returned_goals + (status == SetStatus.DRAFT)  # to_submit or returned
    if row.open_comments and status is not None and status not in (SetStatus.CERTIFIED, SetStatus.SUPERSEDED):
        count += 1
    # department_must_reconfirm reads only department_id and department_confirmed_at, which the row carries.
    if status == SetStatus.SUBMITTED and department_must_reconfirm(session, row):
        count += 1
    return count


def _department_items(session: Session, actor: Actor) -> list[InboxItem]:
    department = session.get(Department, actor.department_id) if actor.department_id else None
    current = department.current_set if department else None
    if current is None:
        return []
    items = []
    open_comments = open_comment_counts(session).get(current.id, 0)
    returned = session.scalar(select(func.count()).select_from(ReviewComment).where(
        ReviewComment.set_id == current.id, ReviewComment.kind == CommentKind.RETURN,
        ReviewComment.answer.is_(None)))
    if current.status == SetStatus.DRAFT and returned:
        items.append(InboxItem("returned", f"{set_label(current)}被退回",
                               "请按退回理由和评审意见修改指标，逐条答复后重新报送财政。", ("set", current.id), urgent=True))
    elif current.status == SetStatus.DRAFT:
        items.append(InboxItem("to_submit", f"{set_label(current)}待报送",
                               "梳理完成后请点击“报送财政”。", ("set", current.id)))
    if open_comments and current.status not in (SetStatus.CERTIFIED, SetStatus.SUPERSEDED):  # frozen: nothing to act on
        items.append(InboxItem("to_answer", f"{open_comments} 条评审意见待答复",
                               f"{set_label(current)}的意见需要部门逐条答复。", ("set", current.id), urgent=True))
    if current.status == SetStatus.SUBMITTED and department_must_reconfirm(session, current):
        items.append(InboxItem("to_reconfirm", f"{set_label(current)}需要重新确认",
                               "报送后指标有改动（财政协助修改），请核对后点击“确认”。", ("set", current.id), urgent=True))
    return items


def _finance_items(session: Session, today: dt.date) -> list[InboxItem]:
    items = []
    sets = session.scalars(
        select(IndicatorSet)
        .where(IndicatorSet.is_current.is_(True),
               IndicatorSet.status.in_((SetStatus.SUBMITTED, SetStatus.CONFIRMED)))
        .options(selectinload(IndicatorSet.department))
        .order_by(IndicatorSet.submitted_at)
    ).all()
    reviews = {review.set_id: review for review in session.scalars(
        select(ReviewRequest).where(ReviewRequest.status == ReviewStatus.OPEN))}
    for indicator_set in sets:
        review = reviews.get(indicator_set.id)
        if indicator_set.status == SetStatus.SUBMITTED:
            waiting = department_must_reconfirm(session, indicator_set)
            items.append(InboxItem(
                "to_confirm", f"{set_label(indicator_set)}待财政确认",
                "部门需先重新确认改动后的内容。" if waiting else "请审核指标后确认，或填写理由退回。",
                ("set", indicator_set.id)))
        if review is None:
            items.append(InboxItem("to_assign", f"{set_label(indicator_set)}待分派评审专家",
                                   "请选择专家并设定评审截止日期。", ("set", indicator_set.id)))
        elif review.is_overdue(today):
            items.append(InboxItem("review_overdue", f"{set_label(indicator_set)}专家评审已逾期",
                                   f"截止日期 {review.due_on:%Y-%m-%d}，请督促专家或调整日期。",
                                   ("set", indicator_set.id), review.due_on, urgent=True))
    for request in session.scalars(select(ChangeRequest).where(ChangeRequest.status == ChangeStatus.PENDING)
                                   .order_by(ChangeRequest.id)):
        items.append(InboxItem("change_request", f"{request.kind.label}：{request.indicator_code}",
                               f"{request.requested_by_name} 提出：{request.reason}", ("change_request", request.id)))
    return items


def _expert_items(session: Session, actor: Actor, today: dt.date) -> list[InboxItem]:
    if actor.user_id is None:
        return []
    rows = session.execute(
        select(ReviewRequest, ReviewAssignment)
        .join(ReviewAssignment, ReviewAssignment.request_id == ReviewRequest.id)
        .join(IndicatorSet, IndicatorSet.id == ReviewRequest.set_id)
        .where(ReviewAssignment.expert_id == actor.user_id, ReviewRequest.status == ReviewStatus.OPEN,
               ReviewAssignment.decision.is_(None),
               IndicatorSet.status.in_((SetStatus.SUBMITTED, SetStatus.CONFIRMED)))
        .options(selectinload(ReviewRequest.indicator_set).selectinload(IndicatorSet.department))
        .order_by(ReviewRequest.due_on)
    ).all()
    # Answers to this expert's comments, per set, given since the review was requested.
    answered = dict(session.execute(
        select(ReviewComment.set_id, func.count())
        .join(ReviewRequest, (ReviewRequest.set_id == ReviewComment.set_id) & (ReviewRequest.status == ReviewStatus.OPEN))
        .where(ReviewComment.author_id == actor.user_id, ReviewComment.answered_at.is_not(None),
               ReviewComment.answered_at > ReviewRequest.requested_at)
        .group_by(ReviewComment.set_id)).all())
    items = []
    for review, _assignment in rows:
        indicator_set = review.indicator_set
        ready = "可以审定或退回" if indicator_set.status == SetStatus.CONFIRMED else "可先提意见，财政确认后审定"
        items.append(InboxItem("to_review", f"评审{set_label(indicator_set)}",
                               f"截止 {review.due_on:%Y-%m-%d}；{ready}。", ("set", indicator_set.id),
                               review.due_on, urgent=review.is_overdue(today)))
        if answered.get(indicator_set.id):
            items.append(InboxItem("answered", f"部门已答复您的 {answered[indicator_set.id]} 条意见",
                                   f"{set_label(indicator_set)}：请查看答复。", ("set", indicator_set.id)))
    return items


def _goals_to_review(session: Session, actor: Actor) -> list[InboxItem]:
    """Submitted goals this reviewer has not judged in the current round (finance also decides them).

    Goals have no assigned reviewers: every expert and finance officer may review a submitted goal,
    so each sees it until they have given their verdict (finance: until it is approved or returned).
    """
    goals = session.scalars(
        select(PerformanceGoal).where(PerformanceGoal.status == GoalStatus.SUBMITTED)
        .options(selectinload(PerformanceGoal.reviews),
                 selectinload(PerformanceGoal.project).selectinload(BudgetProject.department))
        .order_by(PerformanceGoal.submitted_at)
    ).all()
    items = []
    for goal in goals:
        reviewed = any(review.reviewer == actor.username for review in goal.current_reviews)
        project = goal.project
        title = f"{project.department.name}“{project.name}”绩效目标"
        if not reviewed:
            items.append(InboxItem("goal_to_review", f"{title}待评审",
                                   "部门已提交，请给出审核结论（优/良/中/差）和逐行意见。", ("goal", goal.id)))
        elif permissions.can_decide_goal(actor, goal):
            items.append(InboxItem("goal_to_decide", f"{title}待审定",
                                   f"已有 {len(goal.current_reviews)} 份评审意见，请审定或退回。", ("goal", goal.id)))
    return items


def _returned_goals(session: Session, actor: Actor) -> list[InboxItem]:
    goals = session.scalars(
        select(PerformanceGoal).join(BudgetProject)
        .where(BudgetProject.department_id == actor.department_id, PerformanceGoal.status == GoalStatus.RETURNED)
        .options(selectinload(PerformanceGoal.project))
    ).all()
    return [InboxItem("goal_returned", f"“{goal.project.name}”绩效目标被退回",
                      "请按评审意见修改后重新提交。", ("goal", goal.id), urgent=True) for goal in goals]


def pending_reviews(session: Session) -> list[ReviewRequest]:
    """Every open review request (for finance overviews)."""
    return list(session.scalars(select(ReviewRequest).where(ReviewRequest.status == ReviewStatus.OPEN)))

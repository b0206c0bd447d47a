"""An indicator set as the workflow pages and services find it: by id, by name, its open expert
review and the actor's assignment on it, and since when it has been in its current state."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb import permissions
from kb.errors import NotFound
from kb.models import IndicatorSet, ReviewAssignment, ReviewComment, ReviewRequest
from kb.models.workflow import CommentKind, ReviewStatus
from kb.services.audit import Actor
from kb.vocab import SetStatus


def get_set(session: Session, set_id: int) -> IndicatorSet:
    """The indicator set with ``set_id`` or :class:`NotFound`."""
    indicator_set = session.get(IndicatorSet, set_id)
    if indicator_set is None:
        raise NotFound(f"指标集 {set_id} 不存在，请从“部门”或“推进情况”页面进入。")
    return indicator_set


def set_key(indicator_set: IndicatorSet) -> str:
    """The audit key of a set, the same the YAML loader uses: ``"101 v2"``."""
    return f"{indicator_set.department.code} v{indicator_set.version}"


def set_label(indicator_set: IndicatorSet) -> str:
    return f"{indicator_set.department.name} {indicator_set.year} 年第 {indicator_set.version} 版指标集"


def open_review(session: Session, indicator_set: IndicatorSet) -> ReviewRequest | None:
    """The open review request of a set, if finance has assigned experts."""
    return session.scalar(
        select(ReviewRequest)
        .where(ReviewRequest.set_id == indicator_set.id, ReviewRequest.status == ReviewStatus.OPEN)
        .order_by(ReviewRequest.id.desc())
    )


def assignment_of(session: Session, actor: Actor, indicator_set: IndicatorSet) -> ReviewAssignment | None:
    """The actor's assignment on the set's open review (None unless an assigned expert)."""
    if not permissions.is_expert(actor) or actor.user_id is None:
        return None
    review = open_review(session, indicator_set)
    if review is None:
        return None
    return next((a for a in review.assignments if a.expert_id == actor.user_id), None)


def status_since(session: Session, indicator_set: IndicatorSet) -> dt.datetime:
    """When the set entered its current status (for “days in the current state”)."""
    returned_at = session.scalar(
        select(func.max(ReviewComment.created_at))
        .where(ReviewComment.set_id == indicator_set.id, ReviewComment.kind == CommentKind.RETURN)
    )
    return state_entered(indicator_set, returned_at)


def state_entered(indicator_set: IndicatorSet, returned_at: dt.datetime | None) -> dt.datetime:
    """:func:`status_since` given the time of the set's last return (a draft re-entered then)."""
    stamp = {
        SetStatus.DRAFT: returned_at,
        SetStatus.SUBMITTED: indicator_set.submitted_at,
        SetStatus.CONFIRMED: indicator_set.finance_confirmed_at,
        SetStatus.CERTIFIED: indicator_set.certified_at,
        SetStatus.SUPERSEDED: indicator_set.superseded_at,
    }.get(indicator_set.status)
    stamp = stamp or indicator_set.created_at
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)

"""Who may read a department's indicators (issue 14 item 6): the ONE place of the rule.

An indicator set that is not certified (a draft, or one being reviewed) is the department's working
copy: it is visible only to that department, to finance (and the administrator, who keeps the
library with finance) and to the experts assigned to review it. Certified sets, and the common
indicators, are visible to everyone signed in. Every read path applies this: search hits, facet
counts and suggestions (through :func:`hidden_codes`), indicator pages and the API
(:func:`check_can_read`), exports and the database fallback search (:func:`indicator_clause`).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from kb import permissions
from kb.errors import PermissionDenied
from kb.models import Department, Indicator, IndicatorSet, ReviewAssignment, ReviewRequest
from kb.vocab import SetStatus

HIDDEN = "该部门的指标集尚未审定发布，您没有查看权限：只有本部门、财政和受邀评审的专家可以查看。"


@dataclass(frozen=True)
class Visible:
    """The departments whose indicators an actor may read: ``everything`` or the listed ids/codes
    (common indicators are always readable)."""

    everything: bool
    department_ids: frozenset[int] = frozenset()
    department_codes: frozenset[str] = frozenset()

    def allows(self, department_id: int | None) -> bool:
        return self.everything or department_id is None or department_id in self.department_ids


EVERYTHING = Visible(True)


def sees_every_draft(actor) -> bool:
    """Finance and the library's administrator read every department's working copy; ``None`` is
    the command line (the operator at the server)."""
    return actor is None or permissions.role_of(actor) in permissions.LIBRARY_KEEPERS


def _readable_departments(actor):
    """The rule as a WHERE clause on ``departments.id`` for an actor who does not see every draft."""
    certified = select(IndicatorSet.department_id).where(IndicatorSet.is_current.is_(True),
                                                         IndicatorSet.status == SetStatus.CERTIFIED)
    conditions = [Department.id.in_(certified)]
    if actor.department_id is not None:
        conditions.append(Department.id == actor.department_id)
    if permissions.is_expert(actor) and actor.user_id is not None:
        assigned = select(IndicatorSet.department_id) \
            .join(ReviewRequest, ReviewRequest.set_id == IndicatorSet.id) \
            .join(ReviewAssignment, ReviewAssignment.request_id == ReviewRequest.id) \
            .where(ReviewAssignment.expert_id == actor.user_id, IndicatorSet.is_current.is_(True))
        conditions.append(Department.id.in_(assigned))
    return or_(*conditions)


def visible_to(session: Session, actor) -> Visible:
    """What ``actor`` may read, from the database (one query)."""
    if sees_every_draft(actor):
        return EVERYTHING
    rows = session.execute(select(Department.id, Department.code).where(_readable_departments(actor))).all()
    return Visible(False, frozenset(row.id for row in rows), frozenset(row.code for row in rows))


def can_read(visible: Visible, indicator: Indicator) -> bool:
    """The predicate: may the actor behind ``visible`` read ``indicator``?"""
    return visible.allows(indicator.department_id)


def check_can_read(session: Session, actor, indicator: Indicator) -> None:
    """Raise :class:`PermissionDenied` when ``actor`` may not read ``indicator``."""
    if not can_read(visible_to(session, actor), indicator):
        raise PermissionDenied(HIDDEN)


def indicator_clause(visible: Visible) -> ColumnElement[bool]:
    """The rule as a WHERE clause on :class:`Indicator` (exports, the database fallback search)."""
    if visible.everything:
        return true()
    if not visible.department_ids:
        return Indicator.department_id.is_(None)
    return or_(Indicator.department_id.is_(None), Indicator.department_id.in_(visible.department_ids))


def hidden_codes(session: Session, visible: Visible) -> tuple[str, ...]:
    """Codes of the indicators ``visible`` may not read: the search passes them as the query's
    ``exclude``, so hits, totals, facet counts and suggestions never count them."""
    if visible.everything:
        return ()
    return tuple(session.scalars(select(Indicator.code).where(~indicator_clause(visible)).order_by(Indicator.code)))


def hidden_for(session: Session, actor) -> tuple[str, ...]:
    """:func:`hidden_codes` for ``actor`` in one query (the search paths pass it as ``hidden``)."""
    if sees_every_draft(actor):
        return ()
    readable = select(Department.id).where(_readable_departments(actor))
    return tuple(session.scalars(select(Indicator.code).where(
        Indicator.department_id.is_not(None), Indicator.department_id.not_in(readable)).order_by(Indicator.code)))


__all__ = ["EVERYTHING", "HIDDEN", "Visible", "can_read", "check_can_read", "hidden_codes", "hidden_for", "indicator_clause",
           "sees_every_draft", "visible_to"]

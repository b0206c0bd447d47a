"""A person's favourites and recently viewed indicators, and copying an indicator into one's own set."""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from kb.errors import PermissionDenied, ValidationFailed, Problem
from kb.models import Department, Favourite, Indicator, RecentView, User
from kb.models.base import utcnow
from kb.permissions import can_add_indicator
from kb.services.audit import Actor
from kb.services.indicators import create_indicator, get_indicator
from kb.services.library import indicator_to_dict

RECENT_LIMIT = 30
_CODE_NUMBER = re.compile(r"^(.*?)(\d+)$")


def is_favourite(session: Session, user: User, indicator: Indicator) -> bool:
    return session.scalar(select(Favourite.id).where(Favourite.user_id == user.id,
                                                     Favourite.indicator_id == indicator.id)) is not None


def toggle_favourite(session: Session, user: User, code: str) -> bool:
    """Add the indicator to the user's favourites, or remove it; returns whether it is now a favourite."""
    indicator = get_indicator(session, code)
    existing = session.scalar(select(Favourite).where(Favourite.user_id == user.id,
                                                      Favourite.indicator_id == indicator.id))
    if existing is not None:
        session.delete(existing)
        session.flush()
        return False
    session.add(Favourite(user_id=user.id, indicator_id=indicator.id))
    session.flush()
    return True


def favourites(session: Session, user: User) -> list[Indicator]:
    """The user's favourite indicators, newest first."""
    rows = session.scalars(
        select(Favourite).where(Favourite.user_id == user.id)
        .options(selectinload(Favourite.indicator).selectinload(Indicator.department))
        .order_by(Favourite.created_at.desc(), Favourite.id.desc())
    ).all()
    return [row.indicator for row in rows]


def record_view(session: Session, user: User, indicator: Indicator) -> None:
    """Remember that the user opened the indicator (one row per indicator; only the latest few kept).

    Best effort: when two requests of the same person record views at the same moment, one of
    them loses the race on the unique row; that view is already remembered, so it is dropped
    (inside a savepoint) instead of failing the page.
    """
    try:
        with session.begin_nested():
            row = session.scalar(select(RecentView).where(RecentView.user_id == user.id,
                                                          RecentView.indicator_id == indicator.id))
            if row is None:
                session.add(RecentView(user_id=user.id, indicator_id=indicator.id, viewed_at=utcnow()))
            else:
                row.viewed_at = utcnow()
            session.flush()
            stale = session.scalars(
                select(RecentView.id).where(RecentView.user_id == user.id)
                .order_by(RecentView.viewed_at.desc(), RecentView.id.desc()).offset(RECENT_LIMIT)
            ).all()
            if stale:
                # A set-based delete: rows another request already removed are simply not there.
                session.execute(delete(RecentView).where(RecentView.id.in_(stale)),
                                execution_options={"synchronize_session": False})
    except (IntegrityError, StaleDataError):
        pass


def recently_viewed(session: Session, user: User, limit: int = RECENT_LIMIT) -> list[tuple[Indicator, Any]]:
    """``(indicator, viewed_at)`` pairs, most recent first."""
    rows = session.scalars(
        select(RecentView).where(RecentView.user_id == user.id)
        .options(selectinload(RecentView.indicator).selectinload(Indicator.department))
        .order_by(RecentView.viewed_at.desc(), RecentView.id.desc()).limit(limit)
    ).all()
    return [(row.indicator, row.viewed_at) for row in rows]


def next_code(session: Session, department: Department) -> str:
    """A free code in the department's own pattern (JY-001 → JY-0xx), else ``<部门编码>-001``."""
    codes = set(session.scalars(select(Indicator.code)))
    own = session.scalars(select(Indicator.code).where(Indicator.department_id == department.id)).all()
    prefix, width, start = f"{department.code}-", 3, 1
    numbered = [m for m in (_CODE_NUMBER.match(code) for code in own) if m]
    if numbered:
        best = max(numbered, key=lambda m: int(m.group(2)))
        prefix, width, start = best.group(1), len(best.group(2)), int(best.group(2)) + 1
    number = start
    while f"{prefix}{number:0{width}d}" in codes:
        number += 1
    return f"{prefix}{number:0{width}d}"


def copy_indicator(session: Session, actor: Actor, code: str, department: Department | None) -> Indicator:
    """Copy a library indicator into ``department``'s set under a new code (复制到我的指标集)."""
    if department is None:
        raise ValidationFailed([Problem("请选择要复制到的部门。", field="department")])
    if not can_add_indicator(actor, department):
        raise PermissionDenied("只能复制到本部门处于“部门梳理中”（草稿）状态的指标集。")
    source = get_indicator(session, code)
    data = indicator_to_dict(source)
    data.update(code=next_code(session, department), state="active")
    if not data.get("basis"):
        data["basis"] = [{"kind": "其他", "title": f"参考指标 {source.code}"}]
    data["remarks"] = (data.get("remarks") or f"复制自 {source.code}（{source.department.name if source.department else '共性指标'}）")
    return create_indicator(session, actor, data, department)

"""The indicator-set lifecycle: 部门为主，财政为辅；双方确认，专家审定 — and versions (相对固定，动态调整).

draft (部门梳理中) → submitted (已报财政) → confirmed (双方已确认) → certified (专家已审定) →
superseded (已被新版本取代). Reviewers may return a submitted or confirmed set to draft with reasons.
Every transition checks the actor's role here, in the service layer, and lands in the audit log.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from kb import permissions
from kb.errors import InvalidTransition, NotFound, PermissionDenied
from kb.models import Department, Indicator, IndicatorSet, ReviewAssignment, ReviewComment, ReviewRequest
from kb.models.base import utcnow
from kb.models.workflow import CommentKind, ReviewDecision, ReviewStatus
from kb.services.audit import Actor, record_change
from kb.services.sets import assignment_of, open_review, set_key, set_label
from kb.services.versions import live_content, set_content
from kb.vocab import SetStatus

CERTIFICATION_RULES = ("all", "majority")
ACTIONS = ("submit", "confirm", "certify", "return", "start_next")
ACTION_LABELS = {"submit": "报送财政", "confirm": "确认", "certify": "审定", "return": "退回",
                 "start_next": "复制上年指标，开始新版本"}
ADMIN_REFUSAL = "管理员账号不办理指标集的报送、确认和审定（三员分立：业务操作请使用部门、财政或专家账号）。"


# --- who may do what ---------------------------------------------------------------------------

def _refuse_admin(actor: Actor) -> None:
    if permissions.is_admin(actor):
        raise PermissionDenied(ADMIN_REFUSAL)


def _require_status(indicator_set: IndicatorSet, allowed: tuple[SetStatus, ...], action: str) -> None:
    if indicator_set.status not in allowed:
        wanted = "或".join(f"“{status.label}”" for status in allowed)
        raise InvalidTransition(
            f"{set_label(indicator_set)}当前为“{indicator_set.status.label}”，不能{ACTION_LABELS[action]}"
            f"（只有{wanted}状态可以{ACTION_LABELS[action]}）。请刷新页面查看最新状态。"
        )


def _require_own_department(actor: Actor, department: Department, action: str) -> None:
    if not permissions.is_own_department(actor, department.id):
        raise PermissionDenied(f"只有{department.name}的部门用户可以{ACTION_LABELS[action]}本部门的指标集。")


def _check_submit(session: Session, actor: Actor, indicator_set: IndicatorSet) -> None:
    _refuse_admin(actor)
    if not permissions.can_submit_set(actor, indicator_set):
        _require_own_department(actor, indicator_set.department, "submit")
    _require_current(indicator_set, "submit")
    _require_status(indicator_set, (SetStatus.DRAFT,), "submit")
    if not live_content(session, indicator_set.department):
        raise InvalidTransition("指标集中还没有指标，请先添加指标再报送财政。")


def _check_confirm(session: Session, actor: Actor, indicator_set: IndicatorSet) -> None:
    _refuse_admin(actor)
    if not permissions.can_confirm_set(actor, indicator_set):
        if permissions.is_department(actor):
            _require_own_department(actor, indicator_set.department, "confirm")
        raise PermissionDenied("只有本部门和财政可以确认指标集（双方确认）；专家请在评审中审定或退回。")
    _require_current(indicator_set, "confirm")
    _require_status(indicator_set, (SetStatus.SUBMITTED,), "confirm")
    if permissions.is_finance(actor) and department_must_reconfirm(session, indicator_set):
        raise InvalidTransition(
            f"{indicator_set.department.name}确认之后指标又有改动，请先请部门重新确认，财政再确认。"
        )


def _check_certify(session: Session, actor: Actor, indicator_set: IndicatorSet) -> ReviewAssignment:
    _refuse_admin(actor)
    if not permissions.is_expert(actor):
        raise PermissionDenied("只有受邀评审的专家可以审定指标集。")
    assignment = assignment_of(session, actor, indicator_set)
    if not permissions.can_certify_set(actor, assigned=assignment is not None):
        raise PermissionDenied("您不在该指标集的评审专家名单中，不能审定。如需参加评审，请联系财政局分派。")
    _require_status(indicator_set, (SetStatus.CONFIRMED,), "certify")
    return assignment


def _check_return(session: Session, actor: Actor, indicator_set: IndicatorSet) -> None:
    _refuse_admin(actor)
    if not permissions.can_return_set(actor, assigned=assignment_of(session, actor, indicator_set) is not None):
        if permissions.is_expert(actor):
            raise PermissionDenied("您不在该指标集的评审专家名单中，不能退回。")
        raise PermissionDenied("只有财政和受邀评审的专家可以退回指标集。")
    _require_status(indicator_set, (SetStatus.SUBMITTED, SetStatus.CONFIRMED), "return")


def _check_start_next(session: Session, actor: Actor, indicator_set: IndicatorSet) -> None:
    _refuse_admin(actor)
    if not permissions.can_start_set(actor, indicator_set.department):
        if permissions.is_department(actor):
            _require_own_department(actor, indicator_set.department, "start_next")
        raise PermissionDenied("只有本部门或财政可以开始新一年的指标集。")
    _require_current(indicator_set, "start_next")
    _require_status(indicator_set, (SetStatus.CERTIFIED,), "start_next")


def _require_current(indicator_set: IndicatorSet, action: str) -> None:
    if not indicator_set.is_current:
        raise InvalidTransition(
            f"{set_label(indicator_set)}不是该部门的当前版本，不能{ACTION_LABELS[action]}；历史版本只读。"
        )


CHECKS = {"submit": _check_submit, "confirm": _check_confirm, "certify": _check_certify,
          "return": _check_return, "start_next": _check_start_next}


def allowed_actions(session: Session, actor: Actor, indicator_set: IndicatorSet) -> list[str]:
    """The transitions ``actor`` may take on the set now (the buttons a page shows)."""
    allowed = []
    for action, check in CHECKS.items():
        try:
            check(session, actor, indicator_set)
        except (PermissionDenied, InvalidTransition):
            continue
        allowed.append(action)
    return allowed


def department_must_reconfirm(session: Session, indicator_set: IndicatorSet) -> bool:
    """True when the department's indicators changed after the department confirmed the set."""
    confirmed_at = indicator_set.department_confirmed_at
    if confirmed_at is None:
        return True
    latest = session.scalar(
        select(func.max(func.coalesce(Indicator.updated_at, Indicator.created_at)))
        .where(Indicator.department_id == indicator_set.department_id)
    )
    if latest is None:
        return False
    if latest.tzinfo is None:
        latest = latest.replace(tzinfo=dt.timezone.utc)
    return latest > confirmed_at


# --- transitions -------------------------------------------------------------------------------

STALE_MESSAGE = "该指标集刚刚被他人处理过（状态已变化），您的操作没有生效。请刷新页面查看最新状态后再操作。"


def _flush(session: Session) -> None:
    """Flush; two people acting on one set at once: the second is refused (``row_version`` lock)."""
    try:
        session.flush()
    except StaleDataError:
        # A failed flush leaves the transaction unusable; roll it back so the caller can render the refusal.
        session.rollback()
        raise InvalidTransition(STALE_MESSAGE) from None


def _transition(session, actor, indicator_set, action, before_status, summary, **extra) -> None:
    _flush(session)
    record_change(session, actor, action, "indicator_set", set_key(indicator_set),
                  before={"status": before_status.value},
                  after={"status": indicator_set.status.value, **extra}, summary=summary)


def submit_set(session: Session, actor: Actor, indicator_set: IndicatorSet) -> IndicatorSet:
    """部门报送财政: draft → submitted; submitting is also the department's confirmation."""
    _check_submit(session, actor, indicator_set)
    now = utcnow()
    indicator_set.status = SetStatus.SUBMITTED
    indicator_set.submitted_at, indicator_set.submitted_by_id = now, actor.user_id
    indicator_set.department_confirmed_at, indicator_set.department_confirmed_by_id = now, actor.user_id
    indicator_set.finance_confirmed_at = indicator_set.finance_confirmed_by_id = None
    review = open_review(session, indicator_set)
    if review is not None:
        # A resubmission after a return: every assigned expert decides again on the new content.
        for assignment in review.assignments:
            assignment.decision = assignment.decided_at = None
    _flush(session)  # before the summary below reads the set's department
    _transition(session, actor, indicator_set, "submit", SetStatus.DRAFT, f"{set_label(indicator_set)}报送财政")
    return indicator_set


def confirm_set(session: Session, actor: Actor, indicator_set: IndicatorSet) -> IndicatorSet:
    """双方确认. The department (re)confirms its content; finance confirms: submitted → confirmed.

    Finance's confirmation is refused while the department has not confirmed the latest content
    (finance may have assisted with edits after the department submitted).
    """
    _check_confirm(session, actor, indicator_set)
    now = utcnow()
    if permissions.is_department(actor):
        indicator_set.department_confirmed_at, indicator_set.department_confirmed_by_id = now, actor.user_id
        _flush(session)  # before the summary below reads the set's department
        _transition(session, actor, indicator_set, "department_confirm", SetStatus.SUBMITTED,
                    f"{indicator_set.department.name}确认指标集内容")
        return indicator_set
    indicator_set.finance_confirmed_at, indicator_set.finance_confirmed_by_id = now, actor.user_id
    indicator_set.status = SetStatus.CONFIRMED
    _flush(session)  # before the summary below reads the set's department
    _transition(session, actor, indicator_set, "confirm", SetStatus.SUBMITTED,
                f"财政确认{set_label(indicator_set)}（双方已确认）")
    return indicator_set


def certification_reached(review: ReviewRequest, rule: str) -> bool:
    """Whether enough assigned experts certified: every one (``all``) or more than half (``majority``)."""
    if rule not in CERTIFICATION_RULES:
        raise ValueError(f"unknown certification rule {rule!r}")
    total = len(review.assignments)
    approvals = sum(1 for a in review.assignments if a.decision == ReviewDecision.CERTIFY)
    if total == 0:
        return False
    return approvals == total if rule == "all" else approvals * 2 > total


def unresolved_comments(session: Session, indicator_set: IndicatorSet) -> list[ReviewComment]:
    """建议修改/建议删除 comments the department has not answered: certifying over them needs a reason."""
    return list(session.scalars(
        select(ReviewComment).where(ReviewComment.set_id == indicator_set.id, ReviewComment.answer.is_(None),
                                    ReviewComment.kind.in_((CommentKind.REVISE, CommentKind.REMOVE)))
        .order_by(ReviewComment.id)))


def certify_set(session: Session, actor: Actor, indicator_set: IndicatorSet, rule: str = "all",
                override_reason: str = "") -> bool:
    """An assigned expert certifies (专家审定). When the rule is met the set becomes the published
    version: status certified, content frozen, the previous certified version superseded.

    Open 建议修改/建议删除 comments need an explicit decision: the department answers them first, or
    the expert certifies anyway with ``override_reason``, which the audit log and timeline keep.
    Returns True when this approval completed the certification.
    """
    assignment = _check_certify(session, actor, indicator_set)
    unresolved = unresolved_comments(session, indicator_set)
    override_reason = (override_reason or "").strip()
    listed = "；".join(f"{c.kind.label} {c.indicator_code or '整体'}" for c in unresolved)
    if unresolved and not override_reason:
        raise InvalidTransition(
            f"还有 {len(unresolved)} 条意见部门尚未答复（{listed}）。审定后指标集冻结，不能再按意见修改："
            "请等部门答复后再审定，或写明保留这些意见仍同意审定的理由。")
    now = utcnow()
    assignment.decision, assignment.decided_at = ReviewDecision.CERTIFY, now
    # Touch the set so that two experts approving at the same moment cannot both miss each other's
    # approval (and leave the set uncertified): the later one is refused and simply tries again.
    flag_modified(indicator_set, "status")
    _flush(session)
    overridden = {"overridden_comments": [c.id for c in unresolved], "override_reason": override_reason} \
        if unresolved else {}
    record_change(session, actor, "expert_certify", "indicator_set", set_key(indicator_set),
                  after={"expert": actor.username, "decision": "certify", **overridden},
                  summary=f"专家{actor.username}同意审定{set_label(indicator_set)}"
                          + (f"；未答复的意见（{listed}）不再要求修改，理由：{override_reason}" if unresolved else ""))
    review = assignment.request
    if not certification_reached(review, rule):
        return False
    for older in indicator_set.department.indicator_sets:
        if older is not indicator_set and older.status == SetStatus.CERTIFIED:
            if older.frozen_indicators is None:
                older.frozen_indicators = set_content(session, older)
            older.status, older.superseded_at = SetStatus.SUPERSEDED, now
            record_change(session, actor, "supersede", "indicator_set", set_key(older),
                          before={"status": "certified"}, after={"status": "superseded"},
                          summary=f"{set_label(older)}被第 {indicator_set.version} 版取代")
    indicator_set.frozen_indicators = live_content(session, indicator_set.department)
    indicator_set.status = SetStatus.CERTIFIED
    indicator_set.certified_at, indicator_set.certified_by_id = now, actor.user_id
    review.status, review.closed_at = ReviewStatus.CLOSED, now
    _flush(session)  # before the summary below reads the set's department
    _transition(session, actor, indicator_set, "certify", SetStatus.CONFIRMED,
                f"{set_label(indicator_set)}经专家审定发布（{len(indicator_set.frozen_indicators)} 个指标）",
                indicators=len(indicator_set.frozen_indicators), rule=rule)
    return True


def return_set(session: Session, actor: Actor, indicator_set: IndicatorSet, reason: str) -> ReviewComment:
    """Finance or an assigned expert returns the set to draft with reasons; comments are kept."""
    _check_return(session, actor, indicator_set)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidTransition("请填写退回理由，说明哪些地方需要修改，部门才能有针对性地调整。")
    before = indicator_set.status
    assignment = assignment_of(session, actor, indicator_set)
    review = open_review(session, indicator_set)
    if review is not None:
        # The content will change: every expert decides again after the next submission.
        for other in review.assignments:
            other.decision = other.decided_at = None
    if assignment is not None:
        assignment.decision, assignment.decided_at = ReviewDecision.RETURN, utcnow()
    comment = ReviewComment(indicator_set=indicator_set, kind=CommentKind.RETURN, body=reason,
                            author_id=actor.user_id, author_name=actor.username, author_role=actor.role.value)
    session.add(comment)
    indicator_set.status = SetStatus.DRAFT
    indicator_set.submitted_at = indicator_set.submitted_by_id = None
    indicator_set.department_confirmed_at = indicator_set.department_confirmed_by_id = None
    indicator_set.finance_confirmed_at = indicator_set.finance_confirmed_by_id = None
    _flush(session)  # before the summary below reads the set's department
    _transition(session, actor, indicator_set, "return", before, f"{set_label(indicator_set)}被退回：{reason}",
                reason=reason)
    return comment


def next_version_years(current: IndicatorSet, this_year: int) -> tuple[list[int], int]:
    """The years a new version of ``current`` may carry, and the one offered first.

    A revision within the same year (动态调整) keeps the year; the next budget year is one more. A
    set left over from past years starts at this year. The year never goes back.
    """
    default = max(current.year, this_year)
    return sorted({current.year, default, default + 1}), default


def start_next_version(session: Session, actor: Actor, department: Department, year: int | None = None
                       ) -> IndicatorSet:
    """复制上年指标: the certified current set stays published; a new draft version becomes current.

    The department's live indicators carry over as the new draft's content. A department with no
    set yet starts its first, empty draft.
    """
    current = department.current_set
    if current is None:
        _refuse_admin(actor)
        if not permissions.can_start_set(actor, department):
            raise PermissionDenied(f"只有{department.name}的部门用户或财政可以为该部门建立指标集。")
        new = IndicatorSet(department=department, year=year or utcnow().year, version=1,
                           status=SetStatus.DRAFT, is_current=True)
        session.add(new)
        session.flush()
        record_change(session, actor, "start_set", "indicator_set", set_key(new),
                      after={"status": "draft", "year": new.year}, summary=f"{department.name}建立第一版指标集")
        return new
    _check_start_next(session, actor, current)
    year = year or next_version_years(current, utcnow().year)[1]
    if year < current.year:
        raise InvalidTransition(f"新版本的年度（{year} 年）不能早于当前版本的 {current.year} 年；"
                                f"年内调整请选 {current.year} 年。")
    if current.frozen_indicators is None:
        current.frozen_indicators = live_content(session, department)
    current.is_current = False
    _flush(session)  # release the one-current-set index before the new current set arrives
    new = IndicatorSet(department=department, year=year, version=current.version + 1,
                       status=SetStatus.DRAFT, is_current=True)
    session.add(new)
    session.flush()
    record_change(session, actor, "start_next", "indicator_set", set_key(new),
                  before={"version": current.version, "year": current.year},
                  after={"status": "draft", "version": new.version, "year": new.year,
                         "copied": len(current.frozen_indicators)},
                  summary=f"{department.name}复制第 {current.version} 版指标开始 {new.year} 年第 {new.version} 版")
    return new


def perform(session: Session, actor: Actor, indicator_set: IndicatorSet, action: str, *, reason: str = "",
            rule: str = "all", year: int | None = None) -> IndicatorSet:
    """Run one lifecycle action on ``indicator_set`` by name (the pages post these names).

    Returns the set the user should see next (the new draft after ``start_next``).
    """
    if action == "submit":
        return submit_set(session, actor, indicator_set)
    if action == "confirm":
        return confirm_set(session, actor, indicator_set)
    if action == "certify":
        certify_set(session, actor, indicator_set, rule, override_reason=reason)
        return indicator_set
    if action == "return":
        return_set(session, actor, indicator_set, reason)
        return indicator_set
    if action == "start_next":
        _check_start_next(session, actor, indicator_set)
        return start_next_version(session, actor, indicator_set.department, year)
    raise NotFound(f"未知的操作“{action}”。")

"""审定流程：an indicator set's page (status, actions, review, comments, timeline), versions and diffs."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from kb import permissions
from kb.errors import InvalidTransition, NotFound
from kb.models import Department, ReviewComment
from kb.models.workflow import CommentKind
from kb.services import reviews, workflow
from kb.services import sets as set_lookup
from kb.services import versions as set_versions
from kb.services.workflow import ACTION_LABELS
from kb.vocab import Role
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.permissions import NOT_FOUND, allow, register, register_scope
from webapp.templating import local_today
from webapp.views.workflow import bp


def _set_scope(view_args) -> object:
    from kb.models import IndicatorSet

    department_id = get_session().scalar(
        select(IndicatorSet.department_id).where(IndicatorSet.id == view_args.get("set_id")))
    return NOT_FOUND if department_id is None else department_id


def _comment_scope(view_args) -> object:
    from kb.models import IndicatorSet

    department_id = get_session().scalar(
        select(IndicatorSet.department_id).join(ReviewComment, ReviewComment.set_id == IndicatorSet.id)
        .where(ReviewComment.id == view_args.get("comment_id")))
    return NOT_FOUND if department_id is None else department_id


register_scope("indicator_set", _set_scope)
register_scope("review_comment", _comment_scope)
register({
    "workflow.set_detail": allow(Role.DEPARTMENT, Role.FINANCE, Role.EXPERT, Role.ADMIN, scope="indicator_set"),
    "workflow.transition": allow(Role.DEPARTMENT, Role.FINANCE, Role.EXPERT, scope="indicator_set", write=True),
    "workflow.assign": allow(Role.FINANCE, write=True),
    "workflow.comment": allow(Role.FINANCE, Role.EXPERT, write=True),
    "workflow.answer": allow(Role.DEPARTMENT, scope="review_comment", write=True),
    "workflow.start": allow(Role.DEPARTMENT, Role.FINANCE, scope="department", write=True),
    "workflow.versions": allow(Role.DEPARTMENT, Role.FINANCE, Role.EXPERT, Role.ADMIN, scope="department"),
    "workflow.diff": allow(Role.DEPARTMENT, Role.FINANCE, Role.EXPERT, Role.ADMIN, scope="department"),
})


def certification_rule() -> str:
    """The configured rule; anything unknown falls back to the stricter "all"."""
    rule = current_app.config.get("REVIEW_CERTIFICATION_RULE", "all")
    return rule if rule in workflow.CERTIFICATION_RULES else "all"


def _department(code: str) -> Department:
    department = get_session().scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound(f"部门 {code} 不存在，请从部门列表进入。")
    return department


@bp.get("/sets/<int:set_id>")
def set_detail(set_id: int):
    """一个版本的指标集：状态、可做的操作、评审意见与答复、时间线。"""
    session = get_session()
    actor = current_actor()
    indicator_set = set_lookup.get_set(session, set_id)
    comments = reviews.comments_for(session, indicator_set)
    by_indicator: dict[str | None, list[ReviewComment]] = defaultdict(list)
    for comment in comments:
        by_indicator[comment.indicator_code].append(comment)
    review = set_lookup.open_review(session, indicator_set)
    actions = workflow.allowed_actions(session, actor, indicator_set)
    must_reconfirm = (indicator_set.status.value == "submitted"
                      and workflow.department_must_reconfirm(session, indicator_set))
    department_view = permissions.is_department(actor)
    # 退回 has its own form with a reason and 复制上年指标 its own notice with the year; a department
    # confirms only when finance changed something after it submitted.
    buttons = [a for a in actions if a not in ("return", "start_next")
               and not (a == "confirm" and department_view and not must_reconfirm)]
    return render_template(
        "workflow/set.html",
        indicator_set=indicator_set,
        department=indicator_set.department,
        content=set_versions.set_content(session, indicator_set),
        comments_by_indicator=by_indicator,
        set_comments=[c for c in comments if c.indicator_code is None],
        timeline=reviews.timeline(session, indicator_set),
        review=review,
        review_summary=reviews.review_summary(review),
        all_reviews=reviews.reviews_for(session, indicator_set),
        actions=actions,
        buttons=buttons,
        next_step=_next_step(indicator_set, department_view, review),
        unresolved=workflow.unresolved_comments(session, indicator_set) if "certify" in buttons else [],
        action_labels=ACTION_LABELS,
        can_comment=reviews.can_comment(session, actor, indicator_set),
        experts=reviews.list_experts(session) if permissions.can_assign_experts(actor, indicator_set) else [],
        my_assignment=set_lookup.assignment_of(session, actor, indicator_set),
        must_reconfirm=must_reconfirm,
        comment_kinds=[CommentKind.ACCEPT, CommentKind.REVISE, CommentKind.REMOVE],
        default_due=(local_today() + dt.timedelta(days=7)).isoformat(),
        today=local_today(),
        rule=certification_rule(),
        start_years=workflow.next_version_years(indicator_set, local_today().year),
    )


def _next_step(indicator_set, department_view: bool, review) -> str:
    """What happens next when this user has nothing to press (an empty 操作 card said nothing)."""
    if not indicator_set.is_current:
        return "这是历史版本，只能查阅。"
    status = indicator_set.status.value
    if status == "submitted":
        return ("已报送财政，等待财政确认；财政确认后分派专家审定。在此期间本部门不能修改指标，"
                "需要修改请联系财政退回。" if department_view else "等待财政确认或退回。")
    if status == "confirmed":
        waiting = "专家评审中" if review else "等待财政分派评审专家"
        return f"双方已确认，{waiting}；专家全部同意后指标集审定发布。"
    if status == "draft":
        return "草稿：部门新增、修改指标后报送财政。"
    return ""


@bp.post("/sets/<int:set_id>/<action>")
def transition(set_id: int, action: str):
    """报送、确认、审定、退回、复制上年指标。"""
    session = get_session()
    indicator_set = set_lookup.get_set(session, set_id)
    if action not in workflow.ACTIONS:
        raise NotFound(f"未知的操作“{action}”。")
    year = request.form.get("year", "")
    result = workflow.perform(session, current_actor(), indicator_set, action,
                              reason=request.form.get("reason", ""), rule=certification_rule(),
                              year=int(year) if year.isdigit() else None)
    session.commit()
    messages = {
        "submit": "已报送财政。财政确认前，本部门指标集暂不能修改。",
        "confirm": "已确认。",
        "certify": "已记录您的审定意见。" if result.status.value != "certified" else "指标集已审定发布。",
        "return": "已退回，部门将按理由修改后重新报送。",
        "start_next": f"已复制第 {indicator_set.version} 版指标，开始 {result.year} 年第 {result.version} 版（草稿），"
                      "现在可以修改。",
    }
    flash(messages[action], "success")
    return redirect(url_for("workflow.set_detail", set_id=result.id))


@bp.post("/sets/<int:set_id>/assign")
def assign(set_id: int):
    """财政分派评审专家并设定截止日期。"""
    session = get_session()
    indicator_set = set_lookup.get_set(session, set_id)
    try:
        due_on = dt.date.fromisoformat(request.form.get("due_on", ""))
    except ValueError:
        raise InvalidTransition("请选择评审截止日期（年-月-日）。") from None
    expert_ids = [int(value) for value in request.form.getlist("expert_id") if value.isdigit()]
    reviews.assign_experts(session, current_actor(), indicator_set, expert_ids, due_on,
                           request.form.get("note", ""))
    session.commit()
    flash("已分派评审专家，专家登录后可在“待办”中看到。", "success")
    return redirect(url_for("workflow.set_detail", set_id=set_id))


@bp.post("/sets/<int:set_id>/comments")
def comment(set_id: int):
    """评审意见：针对某个指标（同意/建议修改/建议删除）或整个指标集。"""
    session = get_session()
    indicator_set = set_lookup.get_set(session, set_id)
    code = request.form.get("indicator_code") or None
    kind = request.form.get("kind") or ("general" if code is None else "")
    if kind not in {k.value for k in CommentKind} - {"return"}:
        raise InvalidTransition("请选择意见类型：同意、建议修改或建议删除。")
    reviews.add_comment(session, current_actor(), indicator_set, kind, request.form.get("body", ""), code)
    session.commit()
    flash("意见已提交。", "success")
    anchor = f"indicator-{code}" if code else "set-comments"
    return redirect(url_for("workflow.set_detail", set_id=set_id, _anchor=anchor))


@bp.post("/comments/<int:comment_id>/answer")
def answer(comment_id: int):
    """部门答复一条评审意见。"""
    session = get_session()
    comment = reviews.get_comment(session, comment_id)
    reviews.answer_comment(session, current_actor(), comment, request.form.get("answer", ""))
    session.commit()
    flash("答复已保存。", "success")
    return redirect(url_for("workflow.set_detail", set_id=comment.set_id, _anchor=f"comment-{comment.id}"))


@bp.post("/departments/<code>/start")
def start(code: str):
    """建立第一版指标集，或复制已审定的指标开始新版本。"""
    session = get_session()
    department = _department(code)
    year = request.form.get("year", "")
    new = workflow.start_next_version(session, current_actor(), department, int(year) if year.isdigit() else None)
    session.commit()
    flash(f"已开始 {new.year} 年第 {new.version} 版指标集（草稿），现在可以新增、修改指标。", "success")
    return redirect(url_for("workflow.set_detail", set_id=new.id))


@bp.get("/departments/<code>/versions")
def versions(code: str):
    """一个部门的全部版本（已发布版本永久可查）。"""
    session = get_session()
    department = _department(code)
    sets = sorted(department.indicator_sets, key=lambda s: s.version, reverse=True)
    counts = {s.id: len(set_versions.set_content(session, s)) for s in sets}
    return render_template("workflow/versions.html", department=department, sets=sets, counts=counts,
                           this_year=local_today().year)


@bp.get("/departments/<code>/diff")
def diff(code: str):
    """两个版本之间新增、删除和修改的指标（逐字段）。"""
    session = get_session()
    department = _department(code)
    sets = {s.version: s for s in department.indicator_sets}
    if len(sets) < 2:
        raise InvalidTransition(f"{department.name}只有一个版本，还没有可以比较的版本。")
    versions_sorted = sorted(sets)
    old_version = request.args.get("old", type=int) or versions_sorted[-2]
    new_version = request.args.get("new", type=int) or versions_sorted[-1]
    if old_version not in sets or new_version not in sets:
        raise NotFound(f"{department.name}没有第 {old_version if old_version not in sets else new_version} 版。")
    result = set_versions.diff_versions(session, sets[old_version], sets[new_version])
    return render_template("workflow/diff.html", department=department, diff=result,
                           versions=versions_sorted, old_version=old_version, new_version=new_version)


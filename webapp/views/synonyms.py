"""检索同义词: finance lists, adds, edits, retires and restores synonym groups, and turns down (or allows again)
the engine's guessed expansions; every change is audited and reaches search without a restart
(kb/live_synonyms.py); the YAML export is the file's form."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from kb import permissions
from kb.errors import EditConflict, ValidationFailed
from kb.services import rejected_guesses
from kb.services import synonyms as service
from kb.vocab import Role
from webapp.auth import current_actor, safe_next
from webapp.db import get_session
from webapp.errors import record_denial
from webapp.forms import version_from
from webapp.permissions import FINANCE, allow, can_open, register

bp = Blueprint("synonyms", __name__, url_prefix="/synonyms")

KEEPERS = allow(Role.FINANCE, Role.ADMIN)  # kb.permissions.can_edit_synonyms
register({
    "synonyms.index": KEEPERS,
    "synonyms.add": FINANCE,
    "synonyms.edit": KEEPERS,
    "synonyms.save": FINANCE,
    "synonyms.retire": FINANCE,
    "synonyms.restore": FINANCE,
    "synonyms.export": KEEPERS,
    "synonyms.reject": FINANCE,
    "synonyms.allow": FINANCE,
})


def can_edit_groups() -> bool:
    """The predicate, and the route table (三员分立 takes business writes from administrators)."""
    return permissions.can_edit_synonyms(current_actor()) and can_open("synonyms.save")


def _filters() -> dict[str, str]:
    status = request.args.get("status", "active")
    return {"text": request.args.get("q", "").strip()[:50], "status": status if status in service.STATUSES else "active",
            "category": request.args.get("category", "").strip()[:50]}


def _index_page(form: dict | None = None, problems=(), status: int = 200):
    session = get_session()
    filters = _filters()
    groups = service.list_groups(session, **filters)
    page = render_template(
        "synonyms/index.html", groups=groups, reach=service.reach_counts(session, groups), filters=filters,
        statuses=service.STATUSES, categories=service.categories(session), form=form or {}, problems=list(problems),
        can_edit=can_edit_groups(), seeded=service.live_groups(session) is not None,
        rejections=rejected_guesses.list_rejections(session))
    return page, status


@bp.get("/")
def index():
    """同义词组列表（按词、状态、分类筛选），新增同义词组。"""
    return _index_page()


def _back(default: str) -> str:
    """Where a form posted from another page (检索分析 › 处理) returns: that page, same site only."""
    back = request.form.get("next")
    return safe_next(back) if back else default


@bp.post("/")
def add():
    """新增同义词组。"""
    session = get_session()
    form = {key: request.form.get(key, "") for key in ("terms", "note", "category")}
    try:
        group = service.add_group(session, current_actor(), service.split_terms(form["terms"]),
                                  note=form["note"], category=form["category"])
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        return _index_page(form, error.problems, 422)
    flash(f"已新增同义词组“{group.label}”，检索立即按新组扩展。", "success")
    return redirect(_back(url_for("synonyms.index")))


def _edit_page(group, form: dict | None = None, problems=(), conflict: str = "", status: int = 200):
    session = get_session()
    page = render_template(
        "synonyms/edit.html", group=group, reach=service.reach_counts(session, [group])[group.id],
        form=form or {"terms": "、".join(group.terms), "note": group.note, "category": group.category},
        problems=list(problems), conflict=conflict, categories=service.categories(session),
        can_edit=can_edit_groups())
    return page, status


@bp.get("/<int:group_id>")
def edit(group_id: int):
    """查看、修改、停用或恢复一个同义词组。"""
    return _edit_page(service.get_group(get_session(), group_id))


def _conflict(session, group_id: int, conflict: EditConflict, form: dict):
    session.rollback()
    record_denial(conflict.message, "save_conflict", "conflict")
    return _edit_page(service.get_group(session, group_id), form, conflict=conflict.message, status=409)


@bp.post("/<int:group_id>")
def save(group_id: int):
    """保存对同义词组的修改（他人已先保存时不覆盖，提示刷新）。"""
    session = get_session()
    form = {key: request.form.get(key, "") for key in ("terms", "note", "category")}
    try:
        group = service.edit_group(session, current_actor(), group_id, service.split_terms(form["terms"]),
                                   note=form["note"], category=form["category"],
                                   expected_version=version_from(request.form))
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        return _edit_page(service.get_group(session, group_id), form, error.problems, status=422)
    except EditConflict as conflict:
        return _conflict(session, group_id, conflict, form)
    flash(f"已保存同义词组“{group.label}”，检索立即按修改后的组扩展。", "success")
    return redirect(url_for("synonyms.index"))


@bp.post("/<int:group_id>/retire")
def retire(group_id: int):
    """停用同义词组（须填写理由；不删除，可恢复）。"""
    session = get_session()
    try:
        group = service.retire_group(session, current_actor(), group_id, reason=request.form.get("reason", ""),
                                     expected_version=version_from(request.form))
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        return _edit_page(service.get_group(session, group_id), problems=error.problems, status=422)
    except EditConflict as conflict:
        return _conflict(session, group_id, conflict, {})
    flash(f"已停用同义词组“{group.label}”，检索不再按它扩展。", "success")
    return redirect(url_for("synonyms.index"))


@bp.post("/<int:group_id>/restore")
def restore(group_id: int):
    """恢复使用已停用的同义词组。"""
    session = get_session()
    try:
        group = service.restore_group(session, current_actor(), group_id, expected_version=version_from(request.form))
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        return _edit_page(service.get_group(session, group_id), problems=error.problems, status=422)
    except EditConflict as conflict:
        return _conflict(session, group_id, conflict, {})
    flash(f"已恢复同义词组“{group.label}”。", "success")
    return redirect(url_for("synonyms.index"))


@bp.post("/rejected")
def reject():
    """排除检索引擎猜测的一对词（输入的词 → 指标库中的词）：检索不再按它扩展。"""
    session = get_session()
    try:
        guess = rejected_guesses.reject_guess(session, current_actor(), request.form.get("source", ""),
                                              request.form.get("term", ""), reason=request.form.get("reason", ""))
        session.commit()
    except ValidationFailed as error:
        session.rollback()
        flash("未排除：" + "；".join(problem.message for problem in error.problems), "error")
        return redirect(_back(url_for("synonyms.index")))
    flash(f"已排除“{guess.label}”：检索不再把“{guess.source}”扩展为“{guess.term}”。", "success")
    return redirect(_back(url_for("synonyms.index")))


@bp.post("/rejected/<int:rejection_id>/allow")
def allow(rejection_id: int):
    """恢复一条已排除的猜测：检索重新可以按它扩展。"""
    session = get_session()
    try:
        guess = rejected_guesses.allow_guess(session, current_actor(), rejection_id,
                                             expected_version=version_from(request.form))
        session.commit()
    except EditConflict as conflict:
        session.rollback()
        record_denial(conflict.message, "save_conflict", "conflict")
        flash(conflict.message, "error")
        return redirect(_back(url_for("synonyms.index")))
    flash(f"已恢复“{guess.label}”：检索可以再按它扩展。", "success")
    return redirect(_back(url_for("synonyms.index")))


@bp.get("/synonyms.yaml")
def export():
    """导出启用的同义词组（kb/indicators/synonyms.yaml 格式）。"""
    return Response(service.export_synonyms(get_session()), mimetype="text/yaml; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=synonyms.yaml"})

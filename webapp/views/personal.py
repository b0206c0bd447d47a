"""我的：favourites and recently viewed indicators."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from kb.services import personal
from webapp.auth import current_user
from webapp.db import get_session

bp = Blueprint("personal", __name__, url_prefix="/me")


@bp.get("")
def index():
    """我的收藏与最近浏览。"""
    session = get_session()
    user = current_user()
    return render_template("personal/index.html", favourites=personal.favourites(session, user),
                           recent=personal.recently_viewed(session, user))


@bp.post("/favourites/<code>")
def favourite(code: str):
    """收藏或取消收藏一项指标。"""
    session = get_session()
    now = personal.toggle_favourite(session, current_user(), code)
    session.commit()
    flash("已加入“我的收藏”。" if now else "已取消收藏。", "success")
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("indicators.detail", code=code))

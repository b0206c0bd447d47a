"""Sign-in, sign-out and password change; who is asking (``current_user`` / ``current_actor``).

Sessions are Flask's signed cookie holding the user id, the user's ``session_epoch``, the sign-in
time and the last activity. Every request re-reads the user: a changed epoch (logout, password
change, account disabled), more than ``SESSION_IDLE_MINUTES`` of inactivity or more than
``SESSION_MAX_HOURS`` since sign-in void the cookie on the server side, so a copied cookie is
useless after logout.
"""
from __future__ import annotations

import time
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for

from sqlalchemy.exc import OperationalError

from kb.errors import ValidationFailed
from kb.models import User
from kb.permissions import is_admin
from kb.services import accounts
from kb.services.audit import Actor, record_change
from webapp.db import get_session

bp = Blueprint("auth", __name__)
SESSION_MAX_HOURS = 12
ADMIN_IDLE_MINUTES = 15
UNCHECKED_FOR_PASSWORD_AGE = {"auth.change_password", "auth.logout", "static"}
PASSWORD_CHANGE_FIRST = "密码已过期或为管理员设置的临时密码，请先在网页上（右上角“修改密码”）修改密码，再使用 API。"


def current_user() -> User | None:
    """The signed-in user of this request, or None."""
    return g.get("user")


def current_actor() -> Actor:
    """The signed-in user as the actor services and the audit log expect."""
    user = current_user()
    if user is None:
        raise RuntimeError("current_actor() needs a signed-in user (the route's rule must not be PUBLIC)")
    return Actor.of(user, request.remote_addr or "")


def login_required(view):
    """For views outside the permission table's reach (the table already requires sign-in)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return sign_in_required()
        return view(*args, **kwargs)

    return wrapped


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def load_user() -> None:
    """Set ``g.user`` from a bearer token (API) or the session cookie, voiding stale sessions."""
    g.user = None
    g.auth_method = None
    token = _bearer_token() if is_api_request() else None
    if token:
        db = get_session()
        user = accounts.user_for_token(db, token)
        if user is not None:
            if db.dirty:  # last_used_at, at most once a minute: most reads write nothing
                try:
                    db.commit()
                except OperationalError:  # database busy: the read goes on, the touch waits for next time
                    db.rollback()
                    user = accounts.user_for_token(db, token)
            g.user, g.auth_method = user, "token"
        return None
    user_id = session.get("uid")
    if user_id is None:
        return None
    user = get_session().get(User, user_id)
    now = time.time()
    idle_minutes = current_app.config["SESSION_IDLE_MINUTES"]
    if user is not None and is_admin(user) and current_app.config.get("SEPARATION_OF_DUTIES"):
        idle_minutes = min(idle_minutes, ADMIN_IDLE_MINUTES)  # 三员 accounts: 15 minutes (security.md 1.1 b)
    idle_limit = idle_minutes * 60
    reason = None
    if user is None or not user.is_active or session.get("epoch") != (user.session_epoch or 0):
        reason = "您的登录已失效（已在别处退出、修改了密码或账户被停用），请重新登录。"
    elif now - session.get("seen", 0) > idle_limit:
        reason = f"您已超过 {idle_minutes} 分钟未操作，为安全起见已自动退出，请重新登录。"
    elif now - session.get("login_at", 0) > SESSION_MAX_HOURS * 3600:
        reason = f"登录已超过 {SESSION_MAX_HOURS} 小时，请重新登录。"
    if reason:
        if user is not None and session.get("epoch") == (user.session_epoch or 0):
            # A timeout (not an already ended session) is a security event worth a line in the audit log.
            record_change(get_session(), Actor.of(user, request.remote_addr or ""), "timeout", "user",
                          user.username, summary=reason[:60])
            get_session().commit()
        session.clear()
        if not is_api_request():
            flash(reason, "warning")
        return None
    # Every request counts as activity (typing in the search box too).
    session["seen"] = now
    g.user, g.auth_method = user, "session"
    return None


def sign_in_required():
    if is_api_request():
        response = jsonify({"message": "请先登录，或在请求头中提供 Authorization: Bearer 令牌。"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def check_password_age(user: User):
    """Send a user whose password must be changed to the change form before anything else.

    API tokens are held to the same rule: a token issued before the password expired (or before an
    administrator set a temporary one) reads and writes nothing until the password is changed.
    """
    if request.endpoint in UNCHECKED_FOR_PASSWORD_AGE:
        return None
    if not accounts.password_expired(user, current_app.config["PASSWORD_MAX_AGE_DAYS"]):
        return None
    if is_api_request():
        response = jsonify({"message": PASSWORD_CHANGE_FIRST})
        response.status_code = 403
        return response
    return redirect(url_for("auth.change_password"))


def safe_next(target: str | None) -> str:
    """Only same-site paths (no open redirect)."""
    if not target:
        return url_for("search.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("search.index")
    return target


THROTTLED = "这台电脑的登录失败次数过多，请稍后再试；如忘记密码请联系系统管理员。"


def ip_is_throttled() -> bool:
    """Too many failed sign-ins from this client (any usernames), on top of the per-account lockout.

    ``request.remote_addr`` is the real client: behind the configured proxy it comes from
    X-Forwarded-For (webapp.security.TrustedProxies), so one computer's guessing never locks out
    everyone who shares the proxy.
    """
    config = current_app.config
    return accounts.too_many_failures_from(get_session(), request.remote_addr or "",
                                           config["LOGIN_ADDRESS_MAX_FAILURES"], config["LOGIN_ADDRESS_WINDOW_MINUTES"])


def lockout_policy() -> accounts.LockoutPolicy:
    config = current_app.config
    return accounts.LockoutPolicy(config["LOGIN_MAX_FAILURES"], config["LOGIN_LOCKOUT_MINUTES"],
                                  config["ACCOUNT_INACTIVE_DAYS"])


def password_policy() -> accounts.PasswordPolicy:
    return accounts.PasswordPolicy(current_app.config["PASSWORD_MIN_LENGTH"], current_app.config["PASSWORD_HISTORY"])


def start_session(user: User) -> None:
    session.clear()  # a fresh cookie at sign-in (no fixation)
    now = time.time()
    session.update(uid=user.id, epoch=user.session_epoch or 0, login_at=now, seen=now)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """登录。"""
    if request.method == "GET" and current_user() is not None:
        return redirect(safe_next(request.args.get("next")))
    error = None
    username = request.form.get("username", "")
    if request.method == "POST":
        db = get_session()
        if ip_is_throttled():
            return render_template("auth/login.html", error=THROTTLED, username=username,
                                   max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                                   lockout_minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"]), 429
        try:
            user = accounts.authenticate(db, username, request.form.get("password", ""), lockout_policy(),
                                         request.remote_addr or "")
        except accounts.LoginFailed as failure:
            db.commit()  # the failure count and the audit rows
            error = failure.message
        else:
            db.commit()
            start_session(user)
            days = accounts.days_until_expiry(user, current_app.config["PASSWORD_MAX_AGE_DAYS"])
            if days is not None and days <= 7:
                flash(f"您的密码将在 {days} 天后过期，请尽快修改。", "warning")
            return redirect(safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error, username=username,
                           max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                           lockout_minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"]), (401 if error else 200)


@bp.post("/logout")
def logout():
    """退出登录（服务器端作废当前会话）。"""
    user = current_user()
    db = get_session()
    accounts.end_sessions(db, current_actor(), user)
    db.commit()
    session.clear()
    flash("您已安全退出。", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    """修改密码。"""
    user = current_user()
    problems: dict[str, list[str]] = {}
    expired = accounts.password_expired(user, current_app.config["PASSWORD_MAX_AGE_DAYS"])
    if request.method == "POST":
        db = get_session()
        new = request.form.get("new", "")
        if new != request.form.get("confirm", ""):
            problems["confirm"] = ["两次输入的新密码不一致。"]
        else:
            try:
                accounts.change_password(db, current_actor(), user, request.form.get("current", ""), new,
                                         password_policy())
            except ValidationFailed as failure:
                for problem in failure.problems:
                    problems.setdefault(problem.field, []).append(problem.message)
            else:
                db.commit()
                start_session(user)  # this browser stays signed in with the new epoch
                flash("密码已修改。其他设备上的登录已全部失效。", "success")
                return redirect(url_for("search.index"))
    return render_template("auth/password.html", problems=problems, expired=expired,
                           min_length=current_app.config["PASSWORD_MIN_LENGTH"]), (422 if problems else 200)


"""账户管理：users (create, role, department, disable, reset password, unlock) and departments."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from kb.errors import NotFound, ValidationFailed
from kb.models import Department, User
from kb.models.base import utcnow
from kb.services import accounts
from kb.services.admin import update_department
from kb.services.users import add_user
from kb.vocab import Role
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.forms import problems_by_field

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _departments():
    return get_session().scalars(select(Department).order_by(Department.code)).all()


def _user(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        raise NotFound("该账户不存在。")
    return user


@bp.get("/users")
def users():
    """账户列表。"""
    rows = get_session().scalars(select(User).order_by(User.role, User.username)).all()
    return render_template("admin/users.html", users=rows, now=utcnow(),
                           separation=current_app.config["SEPARATION_OF_DUTIES"])


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    """新建账户（初始密码为临时密码，首次登录须修改）。"""
    problems, form = {}, request.form
    if request.method == "POST":
        session = get_session()
        try:
            user = add_user(session, current_actor(), form.get("username", "").strip(), form.get("password", ""),
                            form.get("role", ""), form.get("department") or None, form.get("display_name", "").strip())
            user.password_changed_at = None  # a temporary password: changed at first sign-in
        except ValidationFailed as error:
            problems = problems_by_field(error)
        else:
            session.commit()
            flash(f"已新建账户 {user.username}。请把临时密码当面告知本人，首次登录时须修改。", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", user=None, form=form, problems=problems, roles=list(Role),
                           departments=_departments()), (422 if problems else 200)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    """修改账户：角色、部门、停用、重置密码、解锁。"""
    session = get_session()
    user = _user(user_id)
    problems = {}
    if request.method == "POST":
        action = request.form.get("action", "save")
        try:
            if action == "unlock":
                accounts.unlock_user(session, current_actor(), user, separation_of_duties=_separation())
                message = "账户已解锁。"
            elif action == "end_sessions":
                accounts.end_sessions(session, current_actor(), user, reason="管理员结束其全部登录")
                message = "该账户在所有设备上的登录和 API 令牌已全部失效。"
            elif action == "reset":
                accounts.reset_password(session, current_actor(), user, request.form.get("password", ""),
                                        history=current_app.config["PASSWORD_HISTORY"],
                                        separation_of_duties=_separation())
                message = "密码已重置为临时密码，本人下次登录时须修改；其原有登录已全部失效。"
            else:
                accounts.update_user(session, current_actor(), user, role=request.form.get("role", ""),
                                     department_code=request.form.get("department") or None,
                                     display_name=request.form.get("display_name", "").strip(),
                                     is_active=request.form.get("is_active") == "on",
                                     separation_of_duties=_separation())
                message = "已保存。"
        except ValidationFailed as error:
            session.rollback()
            problems = problems_by_field(error)
        else:
            session.commit()
            flash(message, "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_form.html", user=user, form=request.form, problems=problems,
                           roles=list(Role), departments=_departments(), now=utcnow()), (422 if problems else 200)


# The security profile as the security administrator sees it (read-only: set in the environment).
SECURITY_SETTINGS = (
    ("PASSWORD_MIN_LENGTH", "口令最短长度"), ("PASSWORD_MAX_AGE_DAYS", "口令有效期（天）"),
    ("PASSWORD_HISTORY", "不可重复使用的最近口令数"), ("LOGIN_MAX_FAILURES", "账户连续失败次数上限"),
    ("LOGIN_LOCKOUT_MINUTES", "锁定时长（分钟）"), ("LOGIN_ADDRESS_MAX_FAILURES", "同一地址失败次数上限"),
    ("LOGIN_ADDRESS_WINDOW_MINUTES", "同一地址统计时段（分钟）"), ("ACCOUNT_INACTIVE_DAYS", "未登录自动停用（天）"),
    ("SESSION_IDLE_MINUTES", "空闲自动退出（分钟）"), ("SEARCH_RATE_PER_MINUTE", "每人每分钟检索次数上限"),
    ("SEPARATION_OF_DUTIES", "三员分立"), ("SESSION_COOKIE_SECURE", "仅经 HTTPS 发送会话 Cookie"),
    ("FORWARDED_ALLOW_IPS", "可信反向代理"), ("AUDIT_RETENTION_DAYS", "审计日志留存（天）"),
)


def _separation() -> bool:
    return bool(current_app.config["SEPARATION_OF_DUTIES"])


@bp.get("/security")
def security():
    """安全管理：安全策略与被锁定的账户（安全管理员）。"""
    now = utcnow()
    locked = get_session().scalars(select(User).where(User.locked_until > now).order_by(User.username)).all()
    settings = [(label, current_app.config.get(key), key) for key, label in SECURITY_SETTINGS]
    return render_template("admin/security.html", locked=locked, settings=settings, now=now)


@bp.post("/users/<int:user_id>/unlock")
def unlock_user(user_id: int):
    """解锁账户（安全管理员）。"""
    session = get_session()
    user = _user(user_id)
    accounts.unlock_user(session, current_actor(), user, separation_of_duties=_separation())
    session.commit()
    flash(f"账户 {user.username} 已解锁。", "success")
    return redirect(url_for("admin.security"))


@bp.get("/departments")
def departments():
    """部门管理。"""
    return render_template("admin/departments.html", departments=_departments())


@bp.route("/departments/<code>", methods=["GET", "POST"])
def edit_department(code: str):
    """修改部门名称、试点标记与三定职能。"""
    session = get_session()
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound(f"部门 {code} 不存在。")
    problems = {}
    if request.method == "POST":
        try:
            update_department(session, current_actor(), department, name=request.form.get("name", ""),
                              pilot=request.form.get("pilot") == "on",
                              functions=request.form.get("functions", "").splitlines())
        except ValidationFailed as error:
            session.rollback()
            problems = problems_by_field(error)
        else:
            session.commit()
            flash("部门信息已保存。", "success")
            return redirect(url_for("admin.departments"))
    return render_template("admin/department_form.html", department=department, problems=problems), (422 if problems else 200)

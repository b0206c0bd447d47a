"""Signing in and staying signed in: login with lockout, password change and expiry, sessions, API tokens.

The numbers (failures before lockout, lockout minutes, password age) come from the caller, which
reads them from the security profile in ``webapp/config.py``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from kb.errors import KbError, PermissionDenied, Problem, ValidationFailed
from kb.models import ApiToken, AuditEntry, Department, User
from kb.models.base import utcnow
from kb.models.user import PasswordHistory, normalise_username
from kb.permissions import can_change_role, can_manage_accounts, can_manage_security
from kb.services.audit import Actor, record_change
from kb.services.users import hash_password, password_problems, role_choices, verify_password
from kb.vocab import Role

GENERIC_LOGIN_FAILURE = "用户名或密码不正确，或账户已被暂时锁定。请核对后重试；多次失败请联系管理员解锁。"
TOKEN_LIFETIME = dt.timedelta(days=30)
# A token's last use is recorded coarsely: a read must not need the database's write lock on every
# request (SQLite has one writer at a time), and "used in the last minute" is all anyone asks.
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)
# A real hash to verify against when the user does not exist, so both cases take the same time.
_DUMMY_HASH = hash_password("dummy-password-for-timing")


class LoginFailed(KbError):
    """Wrong username or password, locked or disabled account: one message for all (no user probing)."""

    def __init__(self) -> None:
        super().__init__(GENERIC_LOGIN_FAILURE)


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lockout_minutes: int = 15
    inactive_days: int = 0  # accounts unused this long are disabled at their next sign-in (0: never)


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    history: int = 5  # the current and the previous passwords that may not be chosen again (0: none)


def find_user(session: Session, username: str) -> User | None:
    """The account named ``username`` (case-insensitive, full-width letters accepted)."""
    return session.scalar(select(User).where(User.username_key == normalise_username(username)))


def safe_name(text: str) -> str:
    """A username as it may appear in the audit log: no control characters (no forged log lines)."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in (text or ""))
    return cleaned[:64] or "(空)"


def authenticate(
    session: Session, username: str, password: str, policy: LockoutPolicy, remote_addr: str = ""
) -> User:
    """The user if the password is right and the account usable; else :class:`LoginFailed`.

    Failures are counted in the database (so they hold across workers); ``policy.max_failures``
    failures in a row lock the account for ``policy.lockout_minutes``. Audit rows are added to
    ``session``: the caller commits even when this raises.
    """
    user = find_user(session, username)
    now = utcnow()
    if user is None:
        verify_password(_DUMMY_HASH, password or "")
        record_change(session, Actor(safe_name(username), "", None, None, remote_addr), "login_failed", "user",
                      safe_name(username), summary="用户不存在")
        raise LoginFailed()
    actor = Actor.of(user, remote_addr)
    if user.is_active and is_dormant(user, policy.inactive_days, now):
        verify_password(_DUMMY_HASH, password or "")
        disable_account(session, actor, user, f"超过 {policy.inactive_days} 天未登录，登录时自动停用")
        raise LoginFailed()
    if user.locked_until is not None and user.locked_until > now:
        verify_password(_DUMMY_HASH, password or "")
        record_change(session, actor, "login_failed", "user", user.username, summary="账户锁定中")
        raise LoginFailed()
    if not verify_password(user.password_hash, password or ""):
        user.failed_logins = (user.failed_logins or 0) + 1
        summary = f"密码错误（连续第 {user.failed_logins} 次）"
        if user.failed_logins >= policy.max_failures:
            user.locked_until = now + dt.timedelta(minutes=policy.lockout_minutes)
            user.failed_logins = 0
            record_change(session, actor, "lockout", "user", user.username,
                          summary=f"连续 {policy.max_failures} 次密码错误，锁定 {policy.lockout_minutes} 分钟")
        record_change(session, actor, "login_failed", "user", user.username, summary=summary)
        raise LoginFailed()
    if not user.is_active:
        record_change(session, actor, "login_failed", "user", user.username, summary="账户已停用")
        raise LoginFailed()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    record_change(session, actor, "login", "user", user.username, summary="登录成功")
    session.flush()
    return user


def too_many_failures_from(session: Session, remote_addr: str, limit: int, minutes: int) -> bool:
    """Whether ``remote_addr`` failed to sign in ``limit`` times within ``minutes`` (any usernames).

    Counted from the audit log, so the limit holds across workers and guessing many usernames
    from one computer is slowed down too (the per-account lockout covers one username).
    """
    if not remote_addr or limit <= 0:
        return False
    since = utcnow() - dt.timedelta(minutes=minutes)
    failures = session.scalar(
        select(func.count()).select_from(AuditEntry)
        .where(AuditEntry.action == "login_failed", AuditEntry.remote_addr == remote_addr, AuditEntry.at >= since)
    )
    return failures >= limit


def password_expired(user: User, max_age_days: int) -> bool:
    """True when the password must be changed now (never set, reset by an admin, or too old)."""
    if user.password_changed_at is None:
        return True
    if not max_age_days:
        return False
    return utcnow() - user.password_changed_at > dt.timedelta(days=max_age_days)


def days_until_expiry(user: User, max_age_days: int) -> int | None:
    if not max_age_days or user.password_changed_at is None:
        return None
    left = user.password_changed_at + dt.timedelta(days=max_age_days) - utcnow()
    return max(0, left.days)


def new_password_problems(user: User, password: str, policy: PasswordPolicy | int = PasswordPolicy()) -> list[str]:
    """Why ``password`` cannot be the new password of ``user`` (empty when acceptable)."""
    if isinstance(policy, int):  # the older call form: the minimum length only
        policy = PasswordPolicy(min_length=policy)
    problems = password_problems(password, user.username, max(policy.min_length, 8))
    if verify_password(user.password_hash, password):
        problems.append("新密码不能与原密码相同。")
    elif any(verify_password(old.password_hash, password) for old in user.password_history[:max(policy.history - 1, 0)]):
        problems.append(f"新密码不能与最近 {policy.history} 次用过的密码相同。")
    return problems


def _remember_password(session: Session, user: User, history: int) -> None:
    """Keep the password being replaced, and only as many old ones as the policy looks at."""
    if history <= 1:
        return
    user.password_history.insert(0, PasswordHistory(password_hash=user.password_hash))
    for old in user.password_history[history - 1:]:
        user.password_history.remove(old)


def change_password(
    session: Session, actor: Actor, user: User, current: str, new: str, policy: PasswordPolicy | int = PasswordPolicy()
) -> None:
    """Change one's own password; every other session and API token of the user becomes void."""
    if isinstance(policy, int):
        policy = PasswordPolicy(min_length=policy)
    problems: list[Problem] = []
    if not verify_password(user.password_hash, current or ""):
        problems.append(Problem("原密码不正确。", field="current"))
    problems += [Problem(message, field="new") for message in new_password_problems(user, new or "", policy)]
    if problems:
        raise ValidationFailed(problems)
    _remember_password(session, user, policy.history)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.session_epoch = (user.session_epoch or 0) + 1
    session.flush()
    record_change(session, actor, "password_change", "user", user.username, summary="修改密码，其他会话已失效")


def is_dormant(user: User, inactive_days: int, now: dt.datetime | None = None) -> bool:
    """Unused (no sign-in, creation or re-enabling) for more than ``inactive_days`` (0: never dormant)."""
    last = user.last_active_at
    return bool(inactive_days) and last is not None and (now or utcnow()) - last > dt.timedelta(days=inactive_days)


def disable_account(session: Session, actor: Actor, user: User, reason: str) -> None:
    """Stop an account from signing in; its sessions and tokens end (等保 8.1.4.2 c)."""
    user.is_active = False
    user.session_epoch = (user.session_epoch or 0) + 1
    session.flush()
    record_change(session, actor, "disable", "user", user.username, summary=reason)


def disable_inactive_accounts(session: Session, actor: Actor, inactive_days: int) -> list[str]:
    """Disable every active account unused for more than ``inactive_days``; their usernames."""
    if inactive_days <= 0:
        return []
    now = utcnow()
    disabled = []
    for user in session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.username)):
        if is_dormant(user, inactive_days, now):
            disable_account(session, actor, user, f"超过 {inactive_days} 天未登录，自动停用")
            disabled.append(user.username)
    return disabled


def end_sessions(session: Session, actor: Actor, user: User, reason: str = "退出登录") -> None:
    """Make every session cookie and token of ``user`` useless on the server side."""
    user.session_epoch = (user.session_epoch or 0) + 1
    session.flush()
    record_change(session, actor, "logout", "user", user.username, summary=reason)


# --- API tokens --------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User, remote_addr: str = "") -> str:
    """A new bearer token for ``user`` (shown once; only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), session_epoch=user.session_epoch or 0,
                         expires_at=utcnow() + TOKEN_LIFETIME))
    session.flush()
    record_change(session, Actor.of(user, remote_addr), "token_issue", "user", user.username, summary="签发 API 令牌")
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning a valid ``token``, or None."""
    if not token:
        return None
    # The token and its user in one statement: every API request asks this (issue 15).
    row = session.scalar(select(ApiToken).options(joinedload(ApiToken.user)).where(ApiToken.token_hash == _digest(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at < now):
        return None
    user = row.user
    if not user.is_active or row.session_epoch != (user.session_epoch or 0):
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now
    return user


# --- administration ----------------------------------------------------------------------------


def update_user(
    session: Session,
    actor: Actor,
    user: User,
    *,
    role: str,
    department_code: str | None,
    display_name: str,
    is_active: bool,
    separation_of_duties: bool = False,
) -> User:
    """Change an account's role, department, name or whether it may sign in (account managers only)."""
    if not can_manage_accounts(actor, separation_of_duties):
        raise PermissionDenied("只有系统管理员可以修改账户。")
    problems: list[Problem] = []
    new_role = Role(role) if role in Role.labels() else None
    if new_role is None:
        problems.append(Problem(f"角色只能是 {role_choices()}。", field="role"))
    department = None
    if department_code:
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            problems.append(Problem(f"部门 {department_code} 不存在。", field="department"))
    if new_role is Role.DEPARTMENT and department is None and not problems:
        problems.append(Problem("预算部门用户必须选择所属部门。", field="department"))
    if new_role is not None and new_role is not user.role and not can_change_role(actor, user.id, separation_of_duties):
        problems.append(Problem("不能修改自己的角色（三员分立：角色须由另一位系统管理员调整）。", field="role"))
    if user.id == actor.user_id and not is_active:
        problems.append(Problem("不能停用自己正在使用的账户。", field="is_active"))
    if problems:
        raise ValidationFailed(problems)
    before = {"role": user.role.value, "department": user.department.code if user.department else None,
              "display_name": user.display_name, "is_active": user.is_active}
    user.role = new_role
    user.department = department if new_role is Role.DEPARTMENT else None
    user.display_name = display_name or user.username
    if user.is_active and not is_active:
        user.session_epoch = (user.session_epoch or 0) + 1
    if is_active and not user.is_active:
        user.enabled_at = utcnow()  # re-enabled: the inactivity clock starts again
    user.is_active = is_active
    session.flush()
    after = {"role": role, "department": user.department.code if user.department else None,
             "display_name": user.display_name, "is_active": is_active}
    record_change(session, actor, "update", "user", user.username, before=before, after=after)
    return user


def reset_password(
    session: Session, actor: Actor, user: User, new: str, history: int = PasswordPolicy.history,
    separation_of_duties: bool = False,
) -> None:
    """Set a temporary password; the user must change it at the next sign-in. Unlocks the account,
    except under 三员分立, where unlocking is the security administrator's alone."""
    if not can_manage_accounts(actor, separation_of_duties):
        raise PermissionDenied("只有系统管理员可以重置密码。")
    problems = [Problem(message, field="password") for message in password_problems(new or "", user.username)]
    if problems:
        raise ValidationFailed(problems)
    _remember_password(session, user, history)  # the old password cannot come back after the reset
    user.password_hash = hash_password(new)
    user.password_changed_at = None  # forces a change at next sign-in
    user.session_epoch = (user.session_epoch or 0) + 1
    unlock = can_manage_security(actor, separation_of_duties)
    if unlock:
        user.failed_logins = 0
        user.locked_until = None
    session.flush()
    record_change(session, actor, "password_reset", "user", user.username,
                  summary="管理员重置密码并解锁" if unlock else "系统管理员重置密码（解锁须由安全管理员办理）")


def unlock_user(session: Session, actor: Actor, user: User, separation_of_duties: bool = False) -> None:
    """Lift a lockout before it runs out (the security administrator's duty)."""
    if not can_manage_security(actor, separation_of_duties):
        raise PermissionDenied("只有安全管理员可以解锁账户。" if separation_of_duties else "只有管理员或安全管理员可以解锁账户。")
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    record_change(session, actor, "unlock", "user", user.username, summary="管理员解锁")

"""Accounts: creation and password hashing (Argon2id)."""
from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import Problem, ValidationFailed
from kb.models import Department, User
from kb.models.base import utcnow
from kb.services.audit import Actor, record_change
from kb.vocab import Role

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory defaults
MIN_PASSWORD_LENGTH = 8
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problems(password: str) -> list[str]:
    """Why a password is too weak (empty when acceptable): length and three character classes."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"密码至少 {MIN_PASSWORD_LENGTH} 位。")
    classes = sum(bool(re.search(pattern, password)) for pattern in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
    if classes < 3:
        problems.append("密码需包含大写字母、小写字母、数字、符号中的至少三类。")
    return problems


def add_user(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    role: str,
    department_code: str | None = None,
    display_name: str = "",
) -> User:
    """Create an account; department users must name their department."""
    problems: list[Problem] = []
    if not USERNAME_PATTERN.match(username):
        problems.append(Problem("用户名只能包含字母、数字和 _ . @ -，长度 2–64。", field="username"))
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        problems.append(Problem(f"用户名 {username} 已存在。", field="username"))
    if role not in Role.labels():
        problems.append(Problem("角色只能是 department、finance、expert、admin。", field="role"))
    department = None
    if department_code:
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            problems.append(Problem(f"部门 {department_code} 不存在。", field="department"))
    if role in Role.labels() and Role(role) is Role.DEPARTMENT and not department_code:
        problems.append(Problem("部门用户必须指定所属部门（--department 部门编码）。", field="department"))
    problems += [Problem(message, field="password") for message in password_problems(password)]
    if problems:
        raise ValidationFailed(problems)
    user = User(
        username=username,
        display_name=display_name or username,
        role=Role(role),
        department=department,
        password_hash=hash_password(password),
        password_changed_at=utcnow(),
    )
    session.add(user)
    session.flush()
    record_change(session, actor, "create", "user", username,
                  after={"role": role, "department": department_code}, summary=display_name or username)
    return user

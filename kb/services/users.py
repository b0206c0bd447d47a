"""Accounts: creation and password hashing (Argon2id)."""
from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import Problem, ValidationFailed
from kb.models import Department, User
from kb.models.user import normalise_username
from kb.models.base import utcnow
from kb.services.audit import Actor, record_change
from kb.vocab import Role

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory defaults
MIN_PASSWORD_LENGTH = 8
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


def role_choices() -> str:
    """The role tokens as a message lists them: ``department（预算部门）、finance（财政）…``."""
    return "、".join(f"{value}（{label}）" for value, label in Role.labels().items())


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Words that make a password guessable here (ASVS 6.2.11): the county, the bureau and its business,
# in pinyin, initials and characters. Matched anywhere in the password, case-insensitively.
CONTEXT_WORDS = (
    "xiangyuan", "襄垣", "czj", "xyczj", "xycz", "caizheng", "财政", "yusuan", "预算", "jixiao", "绩效",
    "zhibiao", "指标", "changzhi", "长治",
)
# The core of the commonest passwords (ASVS 6.2.4): a password whose letters are only one of these
# (Admin@2024, P@ssw0rd1, Qwerty#123) is refused whatever digits and symbols surround it.
COMMON_CORES = frozenset({
    "", "password", "passwd", "pass", "pssw", "pswd", "admin", "administrator", "root", "test", "user", "guest",
    "qwerty", "qwer", "asdf", "zxcv", "qaz", "qazwsx", "qwe", "abc", "abcd", "abcde", "abcdef", "aa", "aaa", "a",
    "woaini", "iloveyou", "welcome", "hello", "letmein", "super", "system", "manager", "china", "huawei",
})
# Leetspeak undone before the core is compared (P@ssw0rd → password).
_LEET = str.maketrans({"@": "a", "0": "o", "1": "i", "3": "e", "$": "s", "5": "s", "!": "i"})


def password_problems(password: str, username: str | None = None, min_length: int = MIN_PASSWORD_LENGTH) -> list[str]:
    """Why a password is too weak (empty when acceptable): length, three character classes, common
    passwords, words of the county and the bureau, and the username inside it."""
    problems = []
    if len(password) < min_length:
        problems.append(f"密码至少 {min_length} 位。")
    classes = sum(bool(re.search(pattern, password)) for pattern in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
    if classes < 3:
        problems.append("密码需包含大写字母、小写字母、数字、符号中的至少三类。")
    lowered = password.lower()
    # The part between the leading and trailing digits/symbols, with leetspeak undone: P@ssw0rd1 → password.
    core = re.sub(r"[^a-z]", "", re.sub(r"^[^a-z]+|[^a-z]+$", "", lowered).translate(_LEET))
    if re.sub(r"[^a-z]", "", lowered) in COMMON_CORES or core in COMMON_CORES:
        problems.append("密码过于常见（如 Admin@123、P@ssw0rd），容易被猜中，请换一个。")
    found = [word for word in CONTEXT_WORDS if word in lowered]
    if found:
        problems.append(f"密码不能包含本县、本局或业务相关的词（{'、'.join(found)}），这类密码最先被猜。")
    if username and len(username) >= 3 and username.lower() in lowered:
        problems.append("密码不能包含用户名。")
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
    else:
        existing = session.scalar(select(User.username).where(User.username_key == normalise_username(username)))
        if existing is not None:
            same = "已存在" if existing == username else f"与已有账户 {existing} 只有大小写不同，不能并存"
            problems.append(Problem(f"用户名 {username} {same}。", field="username"))
    if role not in Role.labels():
        problems.append(Problem(f"角色只能是 {role_choices()}。", field="role"))
    department = None
    if department_code:
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            problems.append(Problem(f"部门 {department_code} 不存在。", field="department"))
    if role in Role.labels() and Role(role) is Role.DEPARTMENT and not department_code:
        problems.append(Problem("部门用户必须指定所属部门（--department 部门编码）。", field="department"))
    problems += [Problem(message, field="password") for message in password_problems(password, username)]
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

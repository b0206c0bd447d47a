"""Issue 14 item 8: password and account policy (等保 8.1.4.1 a, 8.1.4.2 c; ASVS 6.2.4, 6.2.11).

Blocklisted and context words, the username inside the password, password history, accounts
disabled after a period without sign-in, usernames unique case-insensitively.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from kb.db import make_engine
from kb.errors import ValidationFailed
from kb.migrations import upgrade_database
from kb.models import AuditEntry, User
from kb.models.base import utcnow
from kb.services import accounts
from kb.services import users as users_service
from kb.services.users import add_user, password_problems

PASSWORD = "Qingshan#2025"
_CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """Many password changes per test: a genuine Argon2id hash at the smallest cost (verified for real)."""
    monkeypatch.setattr(users_service, "hash_password", _CHEAP.hash)
    monkeypatch.setattr(accounts, "hash_password", _CHEAP.hash)


@pytest.fixture
def user(session, actor) -> User:
    user = add_user(session, actor, "wangfang", PASSWORD, "finance")
    session.commit()
    return user


@pytest.mark.parametrize("password", [
    "Czj@2024", "Xiangyuan#2025", "襄垣Abc#123", "CaiZheng@2025", "Yusuan#2026x", "预算Abc#123",
])
def test_words_of_the_county_and_the_bureau_are_refused(password: str):
    assert any("本县、本局" in problem for problem in password_problems(password))


@pytest.mark.parametrize("password", ["Admin@2024", "P@ssw0rd1", "Qwerty#123", "Abc@12345", "Woaini@520"])
def test_common_passwords_are_refused(password: str):
    assert any("过于常见" in problem for problem in password_problems(password))


def test_a_good_password_passes():
    assert password_problems(PASSWORD, "wangfang") == []


def test_the_username_may_not_be_inside_the_password_at_creation(session, actor):
    with pytest.raises(ValidationFailed) as refused:
        add_user(session, actor, "wangfang", "WangFang#2025", "finance")
    assert "密码不能包含用户名。" in str(refused.value.problems)


def test_temporary_password_set_by_an_administrator_follows_the_policy(session, actor, user):
    with pytest.raises(ValidationFailed) as refused:
        accounts.reset_password(session, actor, user, "Czj@2024")
    assert "本县、本局" in str(refused.value.problems)


def test_recent_passwords_cannot_be_chosen_again(session, actor, user):
    passwords = [PASSWORD, "Songlin#A1a", "Songlin#B2b", "Songlin#C3c", "Songlin#D4d"]
    for current, new in zip(passwords, passwords[1:]):
        accounts.change_password(session, actor, user, current, new, accounts.PasswordPolicy(history=5))
    for old in passwords[:-1]:  # the last five (the current one included) are all refused
        with pytest.raises(ValidationFailed) as refused:
            accounts.change_password(session, actor, user, passwords[-1], old, accounts.PasswordPolicy(history=5))
        assert "最近 5 次" in str(refused.value.problems) or "原密码相同" in str(refused.value.problems)
    accounts.change_password(session, actor, user, passwords[-1], "Songlin#E5e", accounts.PasswordPolicy(history=5))
    # Only as many old hashes as the policy needs are kept; the sixth-newest is free again.
    assert len(user.password_history) == 4
    accounts.change_password(session, actor, user, "Songlin#E5e", PASSWORD, accounts.PasswordPolicy(history=5))


def test_the_password_before_a_reset_cannot_come_back(session, actor, user):
    accounts.reset_password(session, actor, user, "Temp#Pass0rd9")
    with pytest.raises(ValidationFailed) as refused:
        accounts.change_password(session, actor, user, "Temp#Pass0rd9", PASSWORD)
    assert "最近 5 次" in str(refused.value.problems)


def test_usernames_are_unique_case_insensitively(session, actor, user):
    with pytest.raises(ValidationFailed) as refused:
        add_user(session, actor, "WangFang", "Songlin#A1a", "finance")
    assert "只有大小写不同" in str(refused.value.problems)
    assert accounts.find_user(session, "WANGFANG") is user
    with pytest.raises(IntegrityError):  # the database refuses it too, whatever the path
        session.execute(insert(User).values(username="wangFANG", role="finance", password_hash="x"))
    session.rollback()


def _age(session, user: User, days: int) -> None:
    then = utcnow() - dt.timedelta(days=days)
    user.created_at, user.last_login_at = then - dt.timedelta(days=30), then
    session.commit()


def test_an_account_unused_too_long_is_disabled_at_sign_in(session, actor, user):
    policy = accounts.LockoutPolicy(inactive_days=90)
    _age(session, user, 91)
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(session, "wangfang", PASSWORD, policy)
    assert user.is_active is False
    assert session.scalar(select(AuditEntry.summary).where(AuditEntry.action == "disable")).startswith("超过 90 天未登录")
    # Re-enabled by an administrator, the clock starts again.
    accounts.update_user(session, actor, user, role="finance", department_code=None, display_name="王芳", is_active=True)
    assert accounts.authenticate(session, "wangfang", PASSWORD, policy) is user


def test_recent_accounts_stay_usable(session, user):
    _age(session, user, 89)
    assert accounts.authenticate(session, "wangfang", PASSWORD, accounts.LockoutPolicy(inactive_days=90)) is user


def test_disable_inactive_accounts_in_bulk(session, actor, user):
    other = add_user(session, actor, "lisi", "Songlin#A1a", "expert")
    _age(session, user, 120)
    assert accounts.disable_inactive_accounts(session, actor, 90) == ["wangfang"]
    assert user.is_active is False and other.is_active is True


def test_migration_0006_keys_existing_users_and_refuses_case_twins(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade_database(engine, "0003")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO users (username, display_name, role, password_hash, is_active, failed_logins, session_epoch, "
            "created_at) VALUES ('Fin', '', 'finance', 'x', 1, 0, 0, CURRENT_TIMESTAMP), "
            "('fin', '', 'finance', 'x', 1, 0, 0, CURRENT_TIMESTAMP)")
    with pytest.raises(RuntimeError, match="只有大小写"):
        upgrade_database(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE users SET username = 'fin2' WHERE username = 'fin'")
    upgrade_database(engine)
    with engine.connect() as connection:
        assert dict(connection.exec_driver_sql("SELECT username, username_key FROM users").all()) == {
            "Fin": "fin", "fin2": "fin2"}
    engine.dispose()


def test_kb_users_disable_inactive(runner, session, user):
    from webapp.cli import main

    _age(session, user, 100)
    result = runner.invoke(main, ["users", "disable-inactive"])
    assert result.exit_code == 0, result.output
    assert "已停用 1 个超过 90 天未登录的账号：wangfang" in result.output
    session.expire_all()
    assert session.get(User, user.id).is_active is False
    assert "没有超过 30 天未登录的账号" in runner.invoke(main, ["users", "disable-inactive", "--days", "30"]).output

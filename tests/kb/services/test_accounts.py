"""Accounts: sign-in with lockout, password change and expiry, server-side session end, API tokens."""
from __future__ import annotations

import datetime as dt

import pytest

from kb.errors import PermissionDenied, ValidationFailed
from kb.models import AuditEntry, User
from kb.models.base import utcnow
from kb.services import accounts
from kb.services.audit import Actor
from kb.services.users import add_user

PASSWORD = "Qingshan#2025"
POLICY = accounts.LockoutPolicy(max_failures=5, lockout_minutes=30)


@pytest.fixture
def user(session, actor) -> User:
    user = add_user(session, actor, "caizheng", PASSWORD, "finance")
    session.commit()
    return user


def test_right_password_signs_in_and_records_it(session, user):
    assert accounts.authenticate(session, "caizheng", PASSWORD, POLICY, "10.0.0.5") is user
    assert user.last_login_at is not None
    entry = session.query(AuditEntry).filter_by(action="login").one()
    assert entry.remote_addr == "10.0.0.5"


def test_username_is_matched_case_and_width_insensitively(session, user):
    assert accounts.authenticate(session, "ＣＡＩzheng", PASSWORD, POLICY) is user


def test_five_failures_lock_the_account_even_for_the_right_password(session, user):
    for _ in range(5):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate(session, "caizheng", "wrong", POLICY)
    assert user.locked_until is not None and user.locked_until > utcnow() + dt.timedelta(minutes=29)
    with pytest.raises(accounts.LoginFailed) as locked:
        accounts.authenticate(session, "caizheng", PASSWORD, POLICY)
    with pytest.raises(accounts.LoginFailed) as unknown:
        accounts.authenticate(session, "nobody", PASSWORD, POLICY)
    assert locked.value.message == unknown.value.message  # one message: no probing for usernames
    assert session.query(AuditEntry).filter_by(action="lockout").count() == 1


def test_lock_runs_out(session, user):
    user.locked_until = utcnow() - dt.timedelta(seconds=1)
    assert accounts.authenticate(session, "caizheng", PASSWORD, POLICY) is user


def test_disabled_account_cannot_sign_in(session, user):
    user.is_active = False
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(session, "caizheng", PASSWORD, POLICY)


def test_control_characters_in_usernames_do_not_reach_the_log(session, user):
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(session, "evil\nINFO login ok", "x", POLICY)
    entry = session.query(AuditEntry).filter_by(action="login_failed").one()
    assert "\n" not in entry.entity_key and "\n" not in entry.actor


def test_password_change_checks_and_ends_other_sessions(session, user):
    actor = Actor.of(user)
    with pytest.raises(ValidationFailed) as refused:
        accounts.change_password(session, actor, user, "wrong", "caizheng#A1b2")
    fields = {problem.field for problem in refused.value.problems}
    assert fields == {"current", "new"}  # wrong current password; new one contains the username
    epoch = user.session_epoch
    accounts.change_password(session, actor, user, PASSWORD, "Taihang#2026x")
    assert user.session_epoch == epoch + 1
    assert accounts.authenticate(session, "caizheng", "Taihang#2026x", POLICY) is user


def test_password_expiry(user):
    assert not accounts.password_expired(user, 90)
    user.password_changed_at = utcnow() - dt.timedelta(days=91)
    assert accounts.password_expired(user, 90)
    assert not accounts.password_expired(user, 0)  # rotation switched off
    user.password_changed_at = None  # a temporary password set by an admin
    assert accounts.password_expired(user, 0)


def test_tokens_work_until_the_session_epoch_moves(session, user):
    token = accounts.issue_token(session, user)
    assert accounts.user_for_token(session, token) is user
    assert accounts.user_for_token(session, token + "x") is None
    accounts.end_sessions(session, Actor.of(user), user)
    assert accounts.user_for_token(session, token) is None


def test_only_admins_manage_accounts(session, user, actor):
    finance = Actor.of(user)
    with pytest.raises(PermissionDenied):
        accounts.reset_password(session, finance, user, "Temp#12345")
    admin = add_user(session, actor, "guanli", PASSWORD, "admin")
    session.flush()
    accounts.reset_password(session, Actor.of(admin), user, "Temp#12345")
    assert user.password_changed_at is None  # must change at next sign-in


def test_separation_of_duties_stops_an_admin_changing_its_own_role(session, actor):
    admin = add_user(session, actor, "guanli", PASSWORD, "admin")
    session.flush()
    with pytest.raises(ValidationFailed):
        accounts.update_user(session, Actor.of(admin), admin, role="finance", department_code=None,
                             display_name="管理员", is_active=True, separation_of_duties=True)

"""Issue 14 item 7: 三员分立 (等保 8.1.5.1–8.1.5.3; security.md SEC-3Y-1..3).

With SEPARATION_OF_DUTIES on, the system, security and audit administrators have disjoint duties
(accounts; security settings and unlocking; read-only audit) and no business rights; the all-round
``admin`` keeps only the accounts. Nobody changes their own role, whatever the setting.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from kb.models import User
from kb.models.base import utcnow
from webapp.cli import main

ADMINS = ("sysadmin", "secadmin", "auditadmin", "admin")


@pytest.fixture
def app_config(app_config: dict) -> dict:
    return {**app_config, "SEPARATION_OF_DUTIES": True}


@pytest.fixture
def clients(world, make_user, login):
    """A signed-in client per administrator role (username = role), and a finance user ``caizheng``."""
    make_user("finance", username="caizheng")
    signed = {}
    for role in ADMINS:
        make_user(role, username=role)
        signed[role] = world.test_client()
        login(signed[role], role)
    return signed


def user_id(app, username: str) -> int:
    with app.extensions["kb"].sessions() as session:
        return session.scalar(select(User.id).where(User.username == username))


def lock(app, username: str) -> None:
    with app.extensions["kb"].sessions() as session:
        session.scalar(select(User).where(User.username == username)).locked_until = utcnow() + dt.timedelta(minutes=30)
        session.commit()


def locked_until(app, username: str):
    with app.extensions["kb"].sessions() as session:
        return session.scalar(select(User.locked_until).where(User.username == username))


@pytest.mark.parametrize("path,allowed", [
    ("/admin/users", {"sysadmin", "admin"}),
    ("/admin/users/new", {"sysadmin", "admin"}),
    ("/admin/departments", {"sysadmin", "admin"}),
    ("/admin/security", {"secadmin"}),
    ("/audit/", {"auditadmin"}),
    ("/indicators/JY-001/edit", set()),
    ("/common/new", set()),
])
def test_each_duty_belongs_to_one_administrator(clients, path: str, allowed: set[str]):
    answers = {role: client.get(path).status_code for role, client in clients.items()}
    assert answers == {role: 200 if role in allowed else 403 for role in ADMINS}


def test_only_the_security_administrator_unlocks(world, clients):
    lock(world, "caizheng")
    target = user_id(world, "caizheng")
    assert clients["sysadmin"].post(f"/admin/users/{target}/unlock").status_code == 403
    assert clients["sysadmin"].post(f"/admin/users/{target}", data={"action": "unlock"}).status_code == 403
    assert clients["auditadmin"].post(f"/admin/users/{target}/unlock").status_code == 403
    assert locked_until(world, "caizheng") is not None
    page = clients["secadmin"].get("/admin/security").get_data(as_text=True)
    assert "caizheng" in page and "PASSWORD_HISTORY" in page
    assert clients["secadmin"].post(f"/admin/users/{target}/unlock").status_code == 302
    assert locked_until(world, "caizheng") is None


def test_a_password_reset_by_the_system_administrator_does_not_unlock(world, clients):
    lock(world, "caizheng")
    response = clients["sysadmin"].post(f"/admin/users/{user_id(world, 'caizheng')}",
                                        data={"action": "reset", "password": "Songlin#Temp9"})
    assert response.status_code == 302
    assert locked_until(world, "caizheng") is not None


def test_the_system_administrator_assigns_roles_but_not_its_own(world, clients):
    target = user_id(world, "caizheng")
    moved = clients["sysadmin"].post(f"/admin/users/{target}", data={"role": "auditadmin", "is_active": "on"})
    assert moved.status_code == 302
    own = clients["sysadmin"].post(f"/admin/users/{user_id(world, 'sysadmin')}", data={"role": "auditadmin", "is_active": "on"})
    assert own.status_code == 422 and "不能修改自己的角色" in own.get_data(as_text=True)
    with world.extensions["kb"].sessions() as session:
        roles = dict(session.execute(select(User.username, User.role)).all())
    assert roles["caizheng"].value == "auditadmin" and roles["sysadmin"].value == "sysadmin"


def test_the_navigation_offers_each_administrator_its_own_duty(clients):
    pages = {role: client.get("/").get_data(as_text=True) for role, client in clients.items()}
    assert 'href="/audit/"' in pages["auditadmin"] and 'href="/admin/users"' not in pages["auditadmin"]
    assert 'href="/admin/security"' in pages["secadmin"] and 'href="/audit/"' not in pages["secadmin"]
    assert 'href="/admin/users"' in pages["sysadmin"] and 'href="/audit/"' not in pages["sysadmin"]
    assert 'href="/admin/security"' not in pages["sysadmin"]


def test_nobody_changes_their_own_role_even_without_separation(world, make_user, login):
    world.config["SEPARATION_OF_DUTIES"] = False
    make_user("admin", username="guanli")
    client = world.test_client()
    login(client, "guanli")
    response = client.post(f"/admin/users/{user_id(world, 'guanli')}", data={"role": "finance", "is_active": "on"})
    assert response.status_code == 422 and "不能修改自己的角色" in response.get_data(as_text=True)


def test_without_separation_the_three_roles_keep_to_their_duty(world, clients):
    world.config["SEPARATION_OF_DUTIES"] = False
    assert clients["admin"].get("/audit/").status_code == 200  # the all-round admin does everything
    assert clients["admin"].get("/admin/security").status_code == 200
    assert clients["auditadmin"].get("/admin/users").status_code == 403
    assert clients["secadmin"].get("/audit/").status_code == 403
    assert clients["sysadmin"].get("/audit/").status_code == 403


@pytest.mark.parametrize("role,label", [("sysadmin", "系统管理员"), ("secadmin", "安全管理员"), ("auditadmin", "审计管理员")])
def test_kb_users_add_accepts_the_three_roles(runner, monkeypatch, role: str, label: str):
    monkeypatch.setenv("KB_PASSWORD", "Songlin#A1a9")
    result = runner.invoke(main, ["users", "add", f"{role}1", "--role", role])
    assert result.exit_code == 0, result.output
    assert label in result.output

"""账户管理 and 部门管理 pages (administrators)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from kb.models import AuditEntry, Department, User
from kb.models.base import utcnow
from tests.webapp.conftest import PASSWORD


@pytest.fixture
def admin(world, client, make_user, login):
    make_user("admin", username="guanli")
    login(client, "guanli")
    return client


def user_named(app, username: str) -> User:
    with app.extensions["kb"].sessions() as session:
        return session.scalar(select(User).where(User.username == username))


def test_admin_creates_a_department_user_with_a_temporary_password(world, admin, app, login):
    refused = admin.post("/admin/users/new", data={"username": "x", "role": "department", "password": "short"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "用户名只能包含" in page and "部门用户必须指定所属部门" in page and "密码至少" in page
    response = admin.post("/admin/users/new", data={"username": "minzheng", "display_name": "民政 张三",
                                                    "role": "department", "department": "104", "password": "Temp#2025ab"})
    assert response.status_code == 302
    created = user_named(world, "minzheng")
    assert created.password_changed_at is None  # temporary: changed at first sign-in
    newcomer = app.test_client()
    login(newcomer, "minzheng", "Temp#2025ab")
    assert newcomer.get("/departments").headers["Location"] == "/password"
    assert "民政 张三" in admin.get("/admin/users").get_data(as_text=True)


def test_admin_changes_role_disables_resets_and_unlocks(world, admin, app, make_user, login):
    target = make_user("department", "101", username="jiaoyu")
    theirs = app.test_client()
    login(theirs, "jiaoyu")
    url = f"/admin/users/{target.id}"
    assert admin.post(url, data={"action": "end_sessions"}).status_code == 302
    assert theirs.get("/departments").status_code == 302  # signed out everywhere
    login(theirs, "jiaoyu")
    assert admin.post(url, data={"action": "save", "role": "finance", "department": "", "display_name": "教育 李四",
                                 "is_active": "on"}).status_code == 302
    assert user_named(world, "jiaoyu").role.value == "finance"
    assert admin.post(url, data={"action": "save", "role": "finance", "display_name": "教育 李四"}).status_code == 302
    assert user_named(world, "jiaoyu").is_active is False
    assert theirs.get("/departments").status_code == 302  # disabled: their session ended at once
    with app.extensions["kb"].sessions() as session:
        user = session.get(User, target.id)
        user.locked_until = utcnow() + dt.timedelta(minutes=10)
        session.commit()
    assert "被锁定至" in admin.get(url).get_data(as_text=True)
    assert admin.post(url, data={"action": "unlock"}).status_code == 302
    assert user_named(world, "jiaoyu").locked_until is None
    weak = admin.post(url, data={"action": "reset", "password": "abc"})
    assert weak.status_code == 422
    assert admin.post(url, data={"action": "reset", "password": "Reset#2025xy"}).status_code == 302
    with app.extensions["kb"].sessions() as session:
        actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.entity_key == "jiaoyu")))
    assert {"update", "unlock", "password_reset"} <= actions


def test_admin_cannot_disable_itself(world, admin):
    me = user_named(world, "guanli")
    response = admin.post(f"/admin/users/{me.id}", data={"action": "save", "role": "admin", "display_name": "管理员"})
    assert response.status_code == 422 and "不能停用自己" in response.get_data(as_text=True)


def test_admin_edits_a_department(world, admin):
    page = admin.get("/admin/departments/109").get_data(as_text=True)
    assert re.search(r'<textarea id="functions"', page)
    response = admin.post("/admin/departments/109", data={"name": "中共襄垣县委办公室", "pilot": "on",
                                                          "functions": "负责县委日常运转\n督查督办重要事项\n"})
    assert response.status_code == 302
    with world.extensions["kb"].sessions() as session:
        department = session.scalar(select(Department).where(Department.code == "109"))
        assert department.pilot is True and department.functions == ["负责县委日常运转", "督查督办重要事项"]
    assert admin.post("/admin/departments/109", data={"name": ""}).status_code == 422


def test_finance_copies_into_a_chosen_department(world, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    response = client.post("/indicators/WJ-006/copy", data={"department": "110"})
    assert response.status_code == 302
    code = re.search(r"/indicators/([^/]+)/edit", response.headers["Location"]).group(1)
    assert code.startswith("110-")
    assert client.post("/indicators/WJ-006/copy", data={"department": ""}).status_code == 422


def test_finance_reorders_the_common_set(world, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    order = re.findall(r'name="order" value="([^"]+)"', client.get("/common/reorder").get_data(as_text=True))
    reordered = list(reversed(order))
    assert client.post("/common/reorder", data={"order": reordered}).status_code == 302
    assert re.findall(r'name="order" value="([^"]+)"', client.get("/common/reorder").get_data(as_text=True)) == reordered
    broken = client.post("/common/reorder", data={"order": reordered[:-1]})
    assert broken.status_code == 422 and "全部指标" in broken.get_data(as_text=True)


def test_password_is_not_echoed_back(world, admin):
    page = admin.post("/admin/users/new", data={"username": "zz", "role": "expert", "password": "weak"}).get_data(as_text=True)
    assert "weak" not in page.split("</header>", 1)[1]
    assert PASSWORD not in page

"""Sign-in, sessions that end on the server, password rules in the browser, headers, error pages."""
from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select

from kb.models import AuditEntry, User
from kb.models.base import utcnow
from tests.webapp.conftest import PASSWORD


def test_pages_need_sign_in_and_come_back_after_it(app, client, make_user):
    make_user("finance", username="caizheng")
    response = client.get("/departments")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/departments")
    signed = client.post("/login?next=/departments", data={"username": "caizheng", "password": PASSWORD})
    assert signed.headers["Location"] == "/departments"


def test_next_cannot_send_people_to_another_site(app, client, make_user):
    make_user("finance", username="caizheng")
    signed = client.post("/login?next=//evil.example/x", data={"username": "caizheng", "password": PASSWORD})
    assert signed.headers["Location"] == "/"


def test_wrong_password_gives_one_generic_message_and_locks_after_five(app, client, make_user):
    make_user("finance", username="caizheng")
    for _ in range(5):
        response = client.post("/login", data={"username": "caizheng", "password": "wrong"})
        assert response.status_code == 401
        assert "用户名或密码不正确" in response.get_data(as_text=True)
    locked = client.post("/login", data={"username": "caizheng", "password": PASSWORD})
    assert locked.status_code == 401  # locked: even the right password fails for now
    with app.extensions["kb"].sessions() as session:
        assert session.scalar(select(User.locked_until).where(User.username == "caizheng")) is not None


def test_logout_makes_a_copied_cookie_useless(app, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    stolen = client.get_cookie("kb_session").value
    assert client.get("/departments").status_code == 200
    client.post("/logout")
    thief = app.test_client()
    thief.set_cookie("kb_session", stolen)
    response = thief.get("/departments")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_idle_timeout_ends_the_session(app, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    with client.session_transaction() as session:
        session["seen"] = time.time() - 31 * 60
    response = client.get("/departments")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "未操作" in client.get("/login").get_data(as_text=True)
    with app.extensions["kb"].sessions() as session:
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "timeout")) == "timeout"


def test_password_change_signs_out_other_browsers(app, client, make_user, login):
    make_user("finance", username="caizheng")
    other = app.test_client()
    login(client, "caizheng")
    login(other, "caizheng")
    weak = client.post("/password", data={"current": PASSWORD, "new": "short", "confirm": "short"})
    assert weak.status_code == 422 and "至少" in weak.get_data(as_text=True)
    done = client.post("/password", data={"current": PASSWORD, "new": "Taihang#2026x", "confirm": "Taihang#2026x"})
    assert done.status_code == 302
    assert client.get("/departments").status_code == 200  # this browser stays signed in
    assert other.get("/departments").status_code == 302  # the other one is out


def test_expired_or_temporary_password_must_be_changed_first(app, client, make_user, login):
    make_user("department", "101", username="jiaoyu")
    with app.extensions["kb"].sessions() as session:
        user = session.scalar(select(User).where(User.username == "jiaoyu"))
        user.password_changed_at = utcnow() - dt.timedelta(days=120)
        session.commit()
    login(client, "jiaoyu")
    response = client.get("/departments")
    assert response.status_code == 302 and response.headers["Location"] == "/password"
    assert "密码已过期" in client.get("/password").get_data(as_text=True)


def test_security_headers_and_cookie_flags(app, client, make_user, login):
    make_user("finance", username="caizheng")
    response = login(client, "caizheng")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/departments")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script>" not in page.get_data(as_text=True)  # no inline scripts anywhere
    assert 'style="' not in page.get_data(as_text=True)


def test_secure_cookie_setting_uses_the_host_prefix(app_config, database_url):
    from webapp import create_app

    secure = create_app({**app_config, "SESSION_COOKIE_SECURE": True})
    assert secure.config["SESSION_COOKIE_NAME"] == "__Host-kb_session"
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    secure.extensions["kb"].close()


def test_error_pages_are_chinese(world, client, make_user, login):
    make_user("expert", username="zhuanjia")
    login(client, "zhuanjia")
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "找不到页面" in missing.get_data(as_text=True)
    forbidden = client.get("/admin/users")
    assert forbidden.status_code == 403 and "没有权限" in forbidden.get_data(as_text=True)
    with world.extensions["kb"].sessions() as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "denied")) is not None


def test_server_error_page_has_a_reference_and_no_trace(app_config, database_url):
    from webapp import create_app
    from webapp.permissions import PUBLIC, RULES

    broken = create_app({**app_config, "TESTING": False})

    @broken.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    RULES["boom"] = PUBLIC
    try:
        response = broken.test_client().get("/boom")
    finally:
        RULES.pop("boom")
        broken.extensions["kb"].close()
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "系统出错了" in page and "错误编号" in page and "secret internals" not in page


def test_admins_time_out_after_15_minutes_when_duties_are_separated(app_config, database_url):
    from webapp import create_app
    from tests.webapp.test_permission_matrix import as_user, build_world

    app = create_app({**app_config, "SEPARATION_OF_DUTIES": True})
    users = build_world(app)
    admin, finance = as_user(app, users["admin"]), as_user(app, users["finance"])
    for client in (admin, finance):
        with client.session_transaction() as session:
            session["seen"] = time.time() - 16 * 60
    assert admin.get("/admin/users").status_code == 302  # 三员: 15 minutes
    assert finance.get("/departments").status_code == 200  # business users: 30 minutes
    app.extensions["kb"].close()


def test_many_failures_from_one_computer_are_slowed_down(app, client, make_user):
    make_user("finance", username="caizheng")
    app.config["LOGIN_ADDRESS_MAX_FAILURES"] = 3
    for name in ("a1", "b2", "c3"):  # different (unknown) usernames: no account lockout applies
        assert client.post("/login", data={"username": name, "password": "x"}).status_code == 401
    throttled = client.post("/login", data={"username": "caizheng", "password": PASSWORD})
    assert throttled.status_code == 429 and "失败次数过多" in throttled.get_data(as_text=True)
    assert client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD}).status_code == 429

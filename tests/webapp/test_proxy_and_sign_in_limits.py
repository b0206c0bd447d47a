"""Issue 14 items 1, 12 and 14: the real client behind the proxy, sign-in limits per account and per
address kept apart (one computer's guessing locks out neither everyone nor anyone else), and no
caching of pages that carry a CSRF token."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.models import AuditEntry
from tests.webapp.conftest import PASSWORD

PROXY = "10.0.0.1"


@pytest.fixture
def app_config(app_config: dict) -> dict:
    return {**app_config, "FORWARDED_ALLOW_IPS": f"{PROXY}, 10.8.0.0/16"}


def via(proxy: str, client_address: str | None = None) -> dict:
    """Request options of a request arriving from ``proxy`` (with X-Forwarded-For when given)."""
    headers = {"X-Forwarded-For": client_address} if client_address else {}
    return {"environ_base": {"REMOTE_ADDR": proxy}, "headers": headers}


def token_request(client, username: str, password: str, proxy: str, client_address: str | None = None):
    return client.post("/api/v1/tokens", json={"username": username, "password": password},
                       **via(proxy, client_address))


def audit_addresses(app, action: str, username: str) -> list[str]:
    with app.extensions["kb"].sessions() as session:
        return list(session.scalars(select(AuditEntry.remote_addr).where(
            AuditEntry.action == action, AuditEntry.entity_key == username)))


def test_one_computer_behind_the_proxy_cannot_lock_everyone_out(app, client, make_user):
    make_user("finance", username="caizheng")
    for number in range(10):  # unknown usernames: only the address limit applies
        assert token_request(client, f"guess{number}", "x", PROXY, "192.168.5.50").status_code == 401
    assert token_request(client, "caizheng", PASSWORD, PROXY, "192.168.5.50").status_code == 429
    # Another computer behind the same proxy signs in as usual.
    assert token_request(client, "caizheng", PASSWORD, PROXY, "192.168.5.60").status_code == 201
    assert audit_addresses(app, "login", "caizheng") == ["192.168.5.60"]
    assert set(audit_addresses(app, "login_failed", "guess0")) == {"192.168.5.50"}


def test_account_and_address_limits_are_separate(app, client, make_user):
    make_user("finance", username="caizheng")
    make_user("finance", username="jixiao")
    for _ in range(5):  # five wrong passwords lock the account, from wherever they came
        assert token_request(client, "caizheng", "wrong", PROXY, "192.168.5.50").status_code == 401
    assert token_request(client, "caizheng", PASSWORD, PROXY, "192.168.5.61").status_code == 401  # locked
    # Five failures do not block the address: its other user signs in …
    assert token_request(client, "jixiao", PASSWORD, PROXY, "192.168.5.50").status_code == 201
    for number in range(5):
        token_request(client, f"guess{number}", "x", PROXY, "192.168.5.50")
    # … but ten do, and only that address.
    assert token_request(client, "jixiao", PASSWORD, PROXY, "192.168.5.50").status_code == 429
    assert token_request(client, "jixiao", PASSWORD, PROXY, "192.168.5.62").status_code == 201


def test_a_trusted_network_is_honoured_and_the_scheme_too(app, client, make_user):
    make_user("finance", username="caizheng")
    response = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD},
                           environ_base={"REMOTE_ADDR": "10.8.3.4"},
                           headers={"X-Forwarded-For": "192.168.7.7", "X-Forwarded-Proto": "https"})
    assert response.status_code == 201
    assert "Strict-Transport-Security" in response.headers  # the proxy said HTTPS
    assert audit_addresses(app, "login", "caizheng") == ["192.168.7.7"]


def test_forwarded_headers_from_anyone_else_are_ignored(app, client, make_user):
    make_user("finance", username="caizheng")
    for number in range(10):  # a new made-up address each time does not escape the limit
        response = token_request(client, f"guess{number}", "x", "192.168.9.9", f"172.16.0.{number}")
        assert response.status_code == 401
    assert token_request(client, "caizheng", PASSWORD, "192.168.9.9", "172.16.0.99").status_code == 429
    assert set(audit_addresses(app, "login_failed", "guess3")) == {"192.168.9.9"}
    spoofed = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "192.168.9.10"},
                          headers={"X-Forwarded-For": "192.168.5.60", "X-Forwarded-Proto": "https"})
    assert spoofed.status_code == 201 and "Strict-Transport-Security" not in spoofed.headers
    assert audit_addresses(app, "login", "caizheng") == ["192.168.9.10"]


def test_the_web_sign_in_has_the_same_address_limit(app, client, make_user):
    make_user("finance", username="caizheng")
    for number in range(10):
        response = client.post("/login", data={"username": f"guess{number}", "password": "x"},
                               **via(PROXY, "192.168.5.50"))
        assert response.status_code == 401
    throttled = client.post("/login", data={"username": "caizheng", "password": PASSWORD}, **via(PROXY, "192.168.5.50"))
    assert throttled.status_code == 429 and "失败次数过多" in throttled.get_data(as_text=True)
    assert client.post("/login", data={"username": "caizheng", "password": PASSWORD},
                       **via(PROXY, "192.168.5.51")).status_code == 302


def test_default_limits_are_the_stronger_ones(app):
    assert app.config["LOGIN_ADDRESS_MAX_FAILURES"] == 10 and app.config["LOGIN_ADDRESS_WINDOW_MINUTES"] == 15
    assert app.config["LOGIN_MAX_FAILURES"] == 5


@pytest.mark.parametrize("path", ["/login", "/no-such-page"])
def test_pages_with_a_csrf_token_are_not_stored(client, path: str):
    response = client.get(path)
    assert 'name="csrf-token"' in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Cookie" in response.headers.get("Vary", "")

"""Issue 14 item 2: a forced password change cannot be skipped through the API (等保 8.1.4.1 a)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kb.models import User
from kb.models.base import utcnow
from tests.webapp.conftest import PASSWORD


def _set_password_changed_at(app, username: str, when) -> None:
    with app.extensions["kb"].sessions() as session:
        session.scalar(select(User).where(User.username == username)).password_changed_at = when
        session.commit()


def _indicator_body(client, headers, code: str) -> tuple[dict, str]:
    response = client.get(f"/api/v1/indicators/{code}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json(), response.headers["ETag"]


def test_temporary_password_gets_no_token(world, client, make_user):
    make_user("finance", username="caizheng")
    _set_password_changed_at(world, "caizheng", None)  # what an administrator's reset leaves
    response = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD})
    assert response.status_code == 403
    assert "修改密码" in response.get_json()["message"]
    assert "token" not in response.get_json()


def test_expired_password_gets_no_token(world, client, make_user):
    make_user("finance", username="caizheng")
    _set_password_changed_at(world, "caizheng", utcnow() - dt.timedelta(days=91))
    response = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD})
    assert response.status_code == 403 and "修改密码" in response.get_json()["message"]


def test_a_token_stops_working_once_the_password_expires(world, client, make_user):
    make_user("finance", username="caizheng")
    token = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    body, etag = _indicator_body(client, headers, "JY-001")
    _set_password_changed_at(world, "caizheng", utcnow() - dt.timedelta(days=91))
    body["name"] = "改名尝试"
    write = client.put("/api/v1/indicators/JY-001", json=body, headers={**headers, "If-Match": etag})
    assert write.status_code == 403 and "修改密码" in write.get_json()["message"]
    read = client.get("/api/v1/indicators/JY-001", headers=headers)
    assert read.status_code == 403
    _set_password_changed_at(world, "caizheng", utcnow())  # changed: the same token works again
    assert client.get("/api/v1/indicators/JY-001", headers=headers).status_code == 200

"""Fixtures for page and API tests: the app with CSRF on and an in-memory search engine, users of
every role, a client that signs in and sends the CSRF token like a browser does.

    def test_something(client, make_user, login, world):
        make_user("department", "101", username="jiaoyu")
        login(client, "jiaoyu")
        assert client.get("/departments/101").status_code == 200
        client.post("/indicators/JY-001/retire", data={"row_version": 1})   # CSRF token added for you
        client.post(url, data={...}, csrf=False)                             # …unless you test the refusal
"""
from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest
from argon2 import PasswordHasher
from flask.testing import FlaskClient
from sqlalchemy import select

from kb.indexing import rebuild_index
from kb.models import Department, IndicatorSet, User
from kb.services import users as users_service
from kb.services.users import add_user
from kb.vocab import SetStatus

PASSWORD = "Qingshan#2025"
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BrowserLikeClient(FlaskClient):
    """Adds the page's CSRF token to form posts, as the browser's hidden field would."""

    def csrf_token(self) -> str:
        page = self.get("/login", follow_redirects=True).get_data(as_text=True)
        match = _META.search(page)
        assert match, "no csrf-token meta tag on the page"
        return match.group(1)

    def open(self, *args, csrf: bool = True, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        data = kwargs.get("data")
        if csrf and method in _WRITE_METHODS and "json" not in kwargs and (data is None or isinstance(data, dict)):
            data = dict(data or {})
            if "csrf_token" not in data:
                data["csrf_token"] = self.csrf_token()
            kwargs["data"] = data
        return super().open(*args, **kwargs)


@pytest.fixture
def app_config(tmp_path: Path, database_url: str) -> dict:
    """The test configuration; tests may change it before asking for ``app``."""
    return {
        "TESTING": True,
        "KB_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "KB_SECRET_KEY": "test-secret",
        "SEARCH_BACKEND": "tests.webapp.memory_search.MemoryBackend",
    }


@pytest.fixture
def app(app_config):
    from webapp import create_app

    app = create_app(app_config)
    app.test_client_class = BrowserLikeClient
    yield app
    app.extensions["kb"].close()


@pytest.fixture
def world(app, seed_snapshot):
    """The YAML seed of the county in the app's database (copied, see tests/conftest.py), with the
    search index built."""
    state = app.extensions["kb"]
    seed_snapshot.restore(state.engine)
    with state.sessions() as session:
        rebuild_index(session, state.search)
    return app


_HASHES: dict[str, str] = {}
# Argon2id costs 0.3 s per hash and per login by design; page tests create and sign in hundreds of
# users. Their hash is a genuine Argon2id hash with the smallest cost, made once per password: the
# app's own verify_password checks it for real (Argon2 reads the cost from the hash). The production
# cost is add_user's, tested where add_user is called directly.
_CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _hash_once(password: str) -> str:
    if password not in _HASHES:
        _HASHES[password] = _CHEAP_HASHER.hash(password)
    return _HASHES[password]


@pytest.fixture
def make_user(app, actor):
    """``make_user(role, department_code=None, username=None)`` → the User (password ``PASSWORD``).

    A department code that does not exist yet is created (with a draft set).
    """
    sessions = app.extensions["kb"].sessions
    counter = iter(range(1, 10_000))

    def make(role: str, department_code: str | None = None, username: str | None = None,
             password: str = PASSWORD) -> User:
        with sessions() as session:
            if department_code and session.scalar(select(Department).where(Department.code == department_code)) is None:
                department = Department(code=department_code, name=f"测试部门{department_code}", functions=[])
                session.add(department)
                session.add(IndicatorSet(department=department, year=2025, status=SetStatus.DRAFT, is_current=True))
                session.flush()
            name = username or f"{role}{department_code or ''}_{next(counter)}"
            with mock.patch.object(users_service, "hash_password", _hash_once):
                user = add_user(session, actor, name, password, role, department_code)
            session.commit()
            session.refresh(user)
            session.expunge(user)
            return user

    return make


@pytest.fixture
def login():
    """``login(client, username, password=PASSWORD)`` signs the client in; returns the response."""

    def sign_in(client: FlaskClient, username: str, password: str = PASSWORD):
        response = client.post("/login", data={"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return sign_in

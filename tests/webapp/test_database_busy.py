"""Issue 14 item 9 (sign-in part): reads need no write lock; writes that cannot get it answer 503.

SQLite only (the lock being held is SQLite's single writer lock); the app here always runs on a
SQLite file of its own, also in the PostgreSQL pass.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import kb.db
from kb.db import create_schema, make_engine
from tests.webapp.conftest import PASSWORD


@pytest.fixture
def app_config(app_config: dict, tmp_path: Path, monkeypatch) -> dict:
    monkeypatch.setattr(kb.db, "SQLITE_BUSY_TIMEOUT_MS", 300)  # a busy database answers quickly in tests
    path = tmp_path / "busy.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()
    return {**app_config, "DATABASE_URL": f"sqlite:///{path}"}


@pytest.fixture
def write_lock(app):
    """Hold SQLite's write lock from another connection, as a long save or a backup would."""
    holder = sqlite3.connect(app.extensions["kb"].engine.url.database, isolation_level=None)

    class Lock:
        def take(self) -> None:
            holder.execute("BEGIN IMMEDIATE")

        def release(self) -> None:
            holder.execute("ROLLBACK")

    yield Lock()
    holder.close()


def test_token_reads_do_not_need_the_write_lock(app, client, make_user, write_lock):
    make_user("finance", username="caizheng")
    token = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/departments", headers=headers).status_code == 200  # first use: recorded
    write_lock.take()
    for _ in range(3):
        assert client.get("/api/v1/departments", headers=headers).status_code == 200
    write_lock.release()


def test_a_write_that_cannot_get_the_lock_answers_503_in_chinese(app, client, make_user, write_lock):
    make_user("finance", username="caizheng")
    write_lock.take()
    api = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD})
    assert api.status_code == 503 and "稍后再试" in api.get_json()["message"]
    assert api.headers["Retry-After"]
    page = client.post("/login", data={"username": "caizheng", "password": PASSWORD})
    assert page.status_code == 503 and "稍后再试" in page.get_data(as_text=True)
    write_lock.release()
    assert client.post("/login", data={"username": "caizheng", "password": PASSWORD}).status_code == 302

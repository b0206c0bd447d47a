"""kb.services.uploads: the store of uploads waiting for confirmation and the import rate limit."""
from __future__ import annotations

import datetime as dt
import os

import pytest

from kb.errors import NotFound, PermissionDenied
from kb.models import AuditEntry
from kb.services import uploads
from kb.services.audit import Actor
from kb.services.uploads import UploadStore, check_import_rate

ME = Actor("dep", "department", 7, 1)


def test_an_upload_is_kept_under_a_generated_name_for_its_sender_only(tmp_path):
    store = UploadStore(tmp_path / "uploads")
    token = store.add(b"file bytes", {"filename": "../../etc/passwd.xlsx", "user_id": 7, "status": "uploaded"})
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == [f"{token}.json", f"{token}.upload"]
    assert store.content(token) == b"file bytes"
    assert store.meta(token, 7)["filename"] == "../../etc/passwd.xlsx"  # kept for display only
    with pytest.raises(NotFound):
        store.meta(token, 8)  # somebody else's upload does not exist for them
    for crafted in ("../" + token[3:], token.upper(), "x" * 32):
        with pytest.raises(NotFound):
            store.meta(crafted, 7)


def test_the_plan_and_the_file_go_while_the_record_stays(tmp_path):
    store = UploadStore(tmp_path)
    token = store.add(b"x", {"user_id": 7})
    assert store.plan(token) is None
    store.drop_file(token)
    with pytest.raises(NotFound):
        store.content(token)
    store.save(token, {"user_id": 7, "status": "done"})
    assert store.meta(token, 7)["status"] == "done"
    store.remove(token)
    with pytest.raises(NotFound):
        store.meta(token, 7)


def test_unconfirmed_uploads_are_deleted_after_their_lifetime(tmp_path):
    now = [1_000_000.0]
    store = UploadStore(tmp_path, lifetime=dt.timedelta(hours=24), clock=lambda: now[0])
    old = store.add(b"old", {"user_id": 7})
    for path in tmp_path.glob(old + ".*"):
        os.utime(path, (now[0] - 3600, now[0] - 3600))
    now[0] += 24 * 3600  # the old one is now 25 hours old
    fresh = store.add(b"new", {"user_id": 7})
    assert not list(tmp_path.glob(old + ".*"))
    assert store.content(fresh) == b"new"


def test_imports_are_limited_per_person_and_hour(session, monkeypatch):
    monkeypatch.setattr(uploads, "IMPORTS_PER_HOUR", 2)
    now = dt.datetime.now(dt.timezone.utc)
    for minutes, who in ((10, "dep"), (20, "dep"), (5, "other"), (90, "dep")):
        session.add(AuditEntry(actor=who, actor_role="department", action="import", entity_type="department",
                               entity_key="901", summary="", at=now - dt.timedelta(minutes=minutes)))
    session.flush()
    with pytest.raises(PermissionDenied, match="一小时内最多导入 2 次"):
        check_import_rate(session, ME, now)
    check_import_rate(session, ME, now + dt.timedelta(minutes=45))  # the two have aged out
    check_import_rate(session, Actor("other", "department", 8, 1), now)

"""Uploads cannot fill the disk (issue 14 item 3): a quota of files waiting per person, a rate per
hour, an audit row per upload, an expiry of one hour (configurable) and no uploads in backups."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from kb.errors import PermissionDenied
from kb.models import AuditEntry
from kb.services import uploads
from kb.services.audit import Actor
from kb.services.uploads import UploadStore, check_upload_rate, record_upload
from webapp.cli import main


def test_unconfirmed_uploads_expire_after_an_hour_by_default(tmp_path):
    now = [1_000_000.0]
    store = UploadStore(tmp_path, clock=lambda: now[0])
    old = store.add(b"old", {"user_id": 7})
    for path in tmp_path.glob(old + ".*"):
        os.utime(path, (now[0] - 61 * 60, now[0] - 61 * 60))
    store.add(b"new", {"user_id": 8})
    assert not list(tmp_path.glob(old + ".*"))


def test_files_waiting_are_limited_per_person(tmp_path):
    store = UploadStore(tmp_path)
    for _ in range(uploads.MAX_PENDING_UPLOADS):
        store.add(b"x", {"user_id": 7})
    with pytest.raises(PermissionDenied) as caught:
        store.add(b"x", {"user_id": 7})
    assert "尚未确认或取消" in caught.value.message
    store.add(b"x", {"user_id": 8})  # someone else is not held up


def test_bytes_waiting_are_limited_per_person(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_PENDING_BYTES", 100)
    store = UploadStore(tmp_path)
    store.add(b"x" * 60, {"user_id": 7})
    with pytest.raises(PermissionDenied):
        store.add(b"x" * 60, {"user_id": 7})


def test_a_confirmed_or_cancelled_upload_frees_the_quota(tmp_path):
    store = UploadStore(tmp_path)
    tokens = [store.add(b"x", {"user_id": 7}) for _ in range(uploads.MAX_PENDING_UPLOADS)]
    store.drop_file(tokens[0])  # confirmed: the record stays for a reload, the bytes go
    store.remove(tokens[1])  # cancelled
    store.add(b"x", {"user_id": 7})
    store.add(b"x", {"user_id": 7})


def test_uploads_are_audited_and_rate_limited(session, monkeypatch):
    monkeypatch.setattr(uploads, "UPLOADS_PER_HOUR", 2)
    actor = Actor("dep", "department")
    for number in range(2):
        check_upload_rate(session, actor)
        record_upload(session, actor, f"{number:032x}", "表.xlsx", 1234, "101")
    session.flush()
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "upload")).all()
    assert len(rows) == 2 and rows[0].after["bytes"] == 1234 and "表.xlsx" in rows[0].summary
    with pytest.raises(PermissionDenied):
        check_upload_rate(session, actor)
    check_upload_rate(session, Actor("other", "department"))


def test_kb_backup_leaves_uploads_out(runner, tmp_path: Path):
    assert runner.invoke(main, ["init", "--no-seed"]).exit_code == 0
    pending = tmp_path / "data" / "uploads"
    pending.mkdir(parents=True, exist_ok=True)
    (pending / ("a" * 32 + ".upload")).write_bytes(b"someone's file")
    result = runner.invoke(main, ["backup", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    (backup_dir,) = (tmp_path / "backups").iterdir()
    assert not (backup_dir / "uploads").exists()
    assert not any(path.suffix == ".upload" for path in backup_dir.rglob("*"))

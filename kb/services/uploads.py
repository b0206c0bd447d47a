"""Uploaded import files waiting for the person's confirmation, and the import rate limit.

An upload is kept under the data directory's ``uploads/`` folder with a generated name (SEC-UP-5),
never the user's file name, until it is confirmed or cancelled; its preview plan is kept next to it
so confirming applies what was shown. Files nobody confirmed are deleted after an hour by default
(SEC-UP-6, issue 14 item 3: ``UPLOAD_LIFETIME_MINUTES``). Each upload belongs to the person who sent
it: anyone else is told it does not exist. A person may keep at most :data:`MAX_PENDING_UPLOADS`
files / :data:`MAX_PENDING_BYTES` waiting and send at most :data:`UPLOADS_PER_HOUR` per hour
(counted from the audit log, where every upload is recorded); uploads are not backed up.
"""
from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.errors import NotFound, PermissionDenied
from kb.models import AuditEntry
from kb.services.audit import Actor, record_change
from kb.services.import_plan import ImportPlan
from kb.services.imports import plan_from_json, plan_to_json

IMPORTS_PER_HOUR = 10
UPLOADS_PER_HOUR = 20
MAX_PENDING_UPLOADS = 3
MAX_PENDING_BYTES = 20 * 1024 * 1024
UPLOAD_LIFETIME = dt.timedelta(hours=1)
GONE = "这次上传不存在或已过期，请重新上传。"


def check_import_rate(session: Session, actor: Actor, now: dt.datetime | None = None) -> None:
    """At most ``IMPORTS_PER_HOUR`` confirmed imports per person and hour (SEC-UP-6), counted from the
    audit log so every worker process sees the same count."""
    since = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(hours=1)
    count = session.scalar(
        select(func.count()).select_from(AuditEntry)
        .where(AuditEntry.action == "import", AuditEntry.actor == actor.username, AuditEntry.at >= since)
    )
    if count >= IMPORTS_PER_HOUR:
        raise PermissionDenied(f"一小时内最多导入 {IMPORTS_PER_HOUR} 次，请稍后再试。如需批量导入，请联系财政绩效股使用命令行。")


def check_upload_rate(session: Session, actor: Actor, now: dt.datetime | None = None) -> None:
    """At most ``UPLOADS_PER_HOUR`` uploads per person and hour, from the audit log's ``upload`` rows."""
    since = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(hours=1)
    count = session.scalar(
        select(func.count()).select_from(AuditEntry)
        .where(AuditEntry.action == "upload", AuditEntry.actor == actor.username, AuditEntry.at >= since)
    )
    if count >= UPLOADS_PER_HOUR:
        raise PermissionDenied(f"一小时内最多上传 {UPLOADS_PER_HOUR} 个文件，请稍后再试。"
                               "如需批量导入，请联系财政绩效股使用命令行。")


def record_upload(session: Session, actor: Actor, token: str, filename: str, size: int,
                  department: str | None) -> None:
    """The audit row of one upload (who, which file, how large, for which department)."""
    record_change(session, actor, "upload", "upload", token, summary=f"{filename}（{size} 字节）",
                  after={"filename": filename, "bytes": size, "department": department})


class UploadStore:
    """The files of uploads in ``directory``: ``<token>.upload`` (the bytes), ``.plan`` (the preview)
    and ``.json`` (who sent it, the chosen department, status and result)."""

    def __init__(self, directory: Path, *, lifetime: dt.timedelta = UPLOAD_LIFETIME,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self.lifetime = lifetime
        self.clock = clock

    def add(self, content: bytes, meta: dict[str, Any]) -> str:
        """Keep a new upload; returns its token (a random hex name, the only handle on it). Refused
        (:class:`PermissionDenied`) past the sender's quota of files waiting for confirmation."""
        self.clean_old()
        self.check_quota(meta.get("user_id"), len(content))
        token = uuid.uuid4().hex
        self.save(token, meta, content)
        return token

    def save(self, token: str, meta: dict[str, Any], content: bytes | None = None) -> None:
        """Write the upload's record (and its bytes when given); old unconfirmed uploads go first."""
        self.clean_old()
        if content is not None:
            self._path(token, ".upload").write_bytes(content)
        record = {**meta, "saved_at": self.clock()}
        self._path(token, ".json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")

    def meta(self, token: str, user_id: int | None) -> dict[str, Any]:
        """The record of ``token`` if ``user_id`` sent it, else :class:`NotFound` (also for strangers)."""
        try:
            meta = json.loads(self._path(token, ".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise NotFound(GONE) from None
        if meta.get("user_id") != user_id:
            raise NotFound(GONE)
        return meta

    def content(self, token: str) -> bytes:
        try:
            return self._path(token, ".upload").read_bytes()
        except OSError:
            raise NotFound("上传的文件已被删除或已过期，请重新上传。") from None

    def save_plan(self, token: str, plan: ImportPlan) -> None:
        self._path(token, ".plan").write_text(plan_to_json(plan), encoding="utf-8")

    def plan(self, token: str) -> ImportPlan | None:
        """The preview's plan, or None when there is none (confirming then re-reads the file)."""
        try:
            return plan_from_json(self._path(token, ".plan").read_text(encoding="utf-8"))
        except OSError:
            return None

    def drop_file(self, token: str) -> None:
        """Delete the bytes and the plan, keep the record (a report or result to show on reload)."""
        for suffix in (".upload", ".plan"):
            self._path(token, suffix).unlink(missing_ok=True)

    def remove(self, token: str) -> None:
        for suffix in (".upload", ".plan", ".json"):
            self._path(token, suffix).unlink(missing_ok=True)

    def check_quota(self, user_id: int | None, size: int) -> None:
        """At most :data:`MAX_PENDING_UPLOADS` files and :data:`MAX_PENDING_BYTES` waiting per person."""
        files, total = 0, size
        for record in self._folder().glob("*.json"):
            try:
                meta = json.loads(record.read_text(encoding="utf-8"))
                upload = record.with_suffix(".upload")
                if meta.get("user_id") != user_id or not upload.exists():
                    continue
                files, total = files + 1, total + upload.stat().st_size
            except (OSError, ValueError):
                continue
        if files >= MAX_PENDING_UPLOADS or total > MAX_PENDING_BYTES:
            raise PermissionDenied(
                f"您已有 {files} 个上传的文件尚未确认或取消（每人最多 {MAX_PENDING_UPLOADS} 个、共 "
                f"{MAX_PENDING_BYTES // 1024 // 1024} MB）。请先在“模版导入”中确认或取消之前的上传，"
                f"或等待其在 {int(self.lifetime.total_seconds() // 60)} 分钟后自动删除。")

    def clean_old(self) -> None:
        """Uploads nobody confirmed are deleted after ``lifetime`` (temporary files do not pile up)."""
        limit = self.clock() - self.lifetime.total_seconds()
        for path in self._folder().glob("*.*"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink(missing_ok=True)
            except OSError:
                continue

    def _folder(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory

    def _path(self, token: str, suffix: str) -> Path:
        # Hex tokens only: a crafted token cannot name a file outside the folder.
        if len(token) != 32 or not all(char in "0123456789abcdef" for char in token):
            raise NotFound(GONE)
        return self._folder() / (token + suffix)

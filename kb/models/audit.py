"""The append-only audit log (who, when, from where, what, before/after, with which result), with a
hash chain: each row stores the SHA-256 of its content and of the row before it, so an edit made
offline (a raw connection with the triggers dropped) is found by ``kb audit verify``."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import JSON, String, event, select, text
from sqlalchemy.orm import Mapped, mapped_column

from kb.models.base import Base, created_at, intpk, utcnow

#: The chain's anchor before the first hashed row.
GENESIS = "0" * 64
#: Fields the row hash covers, in this order (``id`` is not known before the insert; order is kept
#: by ``prev_hash``).
_PENDING = "audit_chain_pending"
HASHED_FIELDS = ("at", "actor", "actor_role", "remote_addr", "action", "entity_type", "entity_key", "summary",
                 "before", "after", "request_id", "department", "result", "prev_hash")


class AuditEntry(Base):
    """One change. Rows are only ever inserted; the ORM refuses updates and deletes."""

    __tablename__ = "audit_log"

    id: Mapped[intpk]
    at: Mapped[created_at] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    actor_role: Mapped[str] = mapped_column(String(20), default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(50), index=True)
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_key: Mapped[str] = mapped_column(String(100), index=True)
    summary: Mapped[str] = mapped_column(String(500), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    department: Mapped[str] = mapped_column(String(32), default="", server_default="")
    result: Mapped[str] = mapped_column(String(20), default="ok", server_default="ok")
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64), index=True)

    def compute_hash(self) -> str:
        """SHA-256 over :data:`HASHED_FIELDS` in a canonical JSON form."""
        return row_digest({name: getattr(self, name) for name in HASHED_FIELDS})

    def __repr__(self) -> str:
        return f"<AuditEntry {self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.entity_key}>"


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete an audit row."""


def row_digest(values: dict[str, Any]) -> str:
    """The hash of one row's values (``at`` as UTC ISO text, whatever the database returns)."""
    canonical = dict(values)
    at = canonical.get("at")
    if at is not None and not isinstance(at, str):
        at = at.replace(tzinfo=None) if at.tzinfo is None else at.astimezone(utcnow().tzinfo).replace(tzinfo=None)
        canonical["at"] = at.isoformat(timespec="microseconds")
    for key in ("actor_role", "remote_addr", "summary", "request_id", "department"):
        canonical[key] = canonical.get(key) or ""
    canonical["result"] = canonical.get("result") or "ok"
    payload = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@event.listens_for(AuditEntry, "before_insert")
def _chain(mapper, connection, target) -> None:
    # Serialise writers of the chain on PostgreSQL (held to the end of the transaction); SQLite has
    # one writer at a time already.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(7240531)"))
    if target.at is None:
        target.at = utcnow()
    # SQLAlchemy calls before_insert for every row of a flush before it runs the INSERTs: the rows
    # not yet written are chained through the hash remembered for this transaction.
    transaction = connection.get_transaction()
    pending = connection.info.get(_PENDING)
    if pending is not None and pending[0] is transaction:
        last = pending[1]
    else:
        last = connection.execute(select(AuditEntry.row_hash).where(AuditEntry.row_hash.is_not(None))
                                  .order_by(AuditEntry.id.desc()).limit(1)).scalar()
    target.prev_hash = last or GENESIS
    target.result = target.result or "ok"
    target.request_id, target.department = target.request_id or "", target.department or ""
    target.row_hash = target.compute_hash()
    connection.info[_PENDING] = (transaction, target.row_hash)


@event.listens_for(AuditEntry, "after_insert")
def _written(mapper, connection, target) -> None:
    connection.info.pop(_PENDING, None)


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(mapper, connection, target) -> None:
    raise AuditLogIsAppendOnly("审计日志只允许追加，不能修改。")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(mapper, connection, target) -> None:
    raise AuditLogIsAppendOnly("审计日志只允许追加，不能删除。")



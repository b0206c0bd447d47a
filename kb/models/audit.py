"""The append-only audit log (who, when, from where, what, before/after)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, event
from sqlalchemy.orm import Mapped, mapped_column

from kb.models.base import Base, created_at, intpk


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

    def __repr__(self) -> str:
        return f"<AuditEntry {self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.entity_key}>"


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete an audit row."""


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(mapper, connection, target) -> None:
    raise AuditLogIsAppendOnly("审计日志只允许追加，不能修改。")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(mapper, connection, target) -> None:
    raise AuditLogIsAppendOnly("审计日志只允许追加，不能删除。")



"""Who did what: the actor every service receives, and the append-only audit log it writes."""
from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import AuditEntry, Department, User
from kb.vocab import Role


@dataclass(frozen=True)
class Actor:
    """The person (or command) behind a change, with what decides their permissions."""

    username: str
    role: Role | None  # None: nobody signed in yet (a failed sign-in under an unknown name)
    user_id: int | None = None
    department_id: int | None = None
    remote_addr: str = ""

    def __post_init__(self) -> None:
        # Accept the stored token too ("finance"); an empty one is an anonymous actor.
        object.__setattr__(self, "role", Role(self.role) if self.role else None)

    @classmethod
    def of(cls, user: User, remote_addr: str = "") -> Actor:
        return cls(user.username, user.role, user.id, user.department_id, remote_addr)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """Command-line and maintenance work run with administrator rights under this name."""
        return cls(name, Role.ADMIN)


#: The id of the request being served (set by the web layer per request; empty for the CLI), so the
#: audit rows of one request, the access log and an error report can be matched.
_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("audit_request_id", default="")

#: Results an audit row may record.
RESULTS = ("ok", "refused", "conflict", "failed")


def set_request_id(request_id: str) -> contextvars.Token:
    """Make ``request_id`` the id written into the audit rows of the current request."""
    return _REQUEST_ID.set(request_id[:64])


def current_request_id() -> str:
    return _REQUEST_ID.get()


def record_change(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_key: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    summary: str = "",
    result: str = "ok",
    department: str | None = None,
) -> AuditEntry:
    """Append one audit row in the caller's transaction (it commits or rolls back with the change).

    ``result`` is ``ok`` or what refused it (:data:`RESULTS`); ``department`` defaults to the
    actor's department code; the request id comes from :func:`set_request_id`."""
    if department is None and actor.department_id is not None:
        with session.no_autoflush:  # an audit row must not flush the caller's half-made change early
            department = session.scalar(select(Department.code).where(Department.id == actor.department_id))
    entry = AuditEntry(
        request_id=current_request_id(),
        department=department or "",
        result=result if result in RESULTS else "failed",
        actor=actor.username,
        actor_role=actor.role.value if actor.role else "",
        remote_addr=actor.remote_addr,
        action=action,
        entity_type=entity_type,
        entity_key=entity_key,
        summary=summary[:500],
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


@dataclass
class ChainReport:
    """What :func:`verify_chain` found: rows checked, rows written before the chain existed, problems
    (row id → Chinese message), in id order."""

    checked: int = 0
    unchained: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(session: Session, batch: int = 2000) -> ChainReport:
    """Recompute every row's hash and link in id order (``kb audit verify``). A row whose content
    does not give its stored hash was edited; a row whose ``prev_hash`` is not the previous row's
    hash follows a deleted or inserted row. Rows purged by the retention archive leave the first
    remaining row's link unchecked (its ``prev_hash`` is taken as the anchor)."""
    report = ChainReport()
    previous: str | None = None
    last_id = 0
    while True:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)).all()
        if not rows:
            return report
        for row in rows:
            last_id = row.id
            if row.row_hash is None:
                if previous is not None:
                    report.problems.append((row.id, f"审计记录 #{row.id} 没有哈希值，但之前的记录已纳入哈希链：可能被篡改或伪造。"))
                else:
                    report.unchained += 1
                continue
            report.checked += 1
            if row.compute_hash() != row.row_hash:
                report.problems.append((row.id, f"审计记录 #{row.id} 的内容与其哈希值不符：该记录在写入后被修改过。"))
            if previous is not None and row.prev_hash != previous:
                report.problems.append((row.id, f"审计记录 #{row.id} 与上一条记录的哈希链接不符：其前面的记录被删除、插入或修改过。"))
            previous = row.row_hash
        session.expunge_all()  # a long log is read in batches, not all kept in memory

"""Who did what: the actor every service receives, and the append-only audit log it writes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from kb.models import AuditEntry, User
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
) -> AuditEntry:
    """Append one audit row in the caller's transaction (it commits or rolls back with the change)."""
    entry = AuditEntry(
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

"""People who use the library and what they may do."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.models.base import Base, created_at, intpk, str_enum, timestamp
from kb.vocab import Role

if TYPE_CHECKING:
    from kb.models.department import Department


class User(Base):
    """An account. Department users belong to one department and act only for it."""

    __tablename__ = "users"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[Role] = mapped_column(str_enum(Role))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[timestamp]
    password_changed_at: Mapped[timestamp]
    last_login_at: Mapped[timestamp]
    # Bumped on logout-everywhere and password change: sessions carrying an older epoch are void.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[created_at]

    department: Mapped[Department | None] = relationship()

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"

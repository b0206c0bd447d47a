"""People who use the library and what they may do."""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.models.base import Base, created_at, intpk, str_enum, timestamp
from kb.vocab import Role

if TYPE_CHECKING:
    from kb.models.department import Department


def normalise_username(username: str) -> str:
    """Usernames compare after NFKC (全角/半角) and case folding: ``Fin``, ``fin`` and ``ｆｉｎ`` are one."""
    return unicodedata.normalize("NFKC", username or "").strip().lower()


def _username_key(context) -> str:
    # A column default, so rows inserted without the ORM get their key too.
    return normalise_username(context.get_current_parameters()["username"])


class User(Base):
    """An account. Department users belong to one department and act only for it."""

    __tablename__ = "users"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # The normalised username, unique: the database itself refuses ``Fin`` beside ``fin``. Nullable
    # only because SQLite cannot add a NOT NULL column to a table others reference; the default
    # fills it on every insert.
    username_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True, default=_username_key)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[Role] = mapped_column(str_enum(Role))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[timestamp]
    password_changed_at: Mapped[timestamp]
    last_login_at: Mapped[timestamp]
    # When an administrator last (re-)enabled the account: the inactivity clock starts again there.
    enabled_at: Mapped[timestamp]
    # Bumped on logout-everywhere and password change: sessions carrying an older epoch are void.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[created_at]

    department: Mapped[Department | None] = relationship()
    password_history: Mapped[list[PasswordHistory]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="PasswordHistory.id.desc()")

    @property
    def last_active_at(self) -> dt.datetime | None:
        """The latest of creation, last sign-in and last re-enabling (for disabling unused accounts)."""
        moments = [moment for moment in (self.created_at, self.last_login_at, self.enabled_at) if moment is not None]
        return max(moments) if moments else None

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class PasswordHistory(Base):
    """A password a user had before (its hash only): the last few may not be chosen again."""

    __tablename__ = "password_history"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[created_at]

    user: Mapped[User] = relationship(back_populates="password_history")

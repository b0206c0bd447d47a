"""API tokens (``Authorization: Bearer …``): only a SHA-256 of the token is stored."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.models.base import Base, created_at, intpk, timestamp
from kb.models.user import User


class ApiToken(Base):
    """A bearer token of one user; void once revoked, expired, or the user's session epoch moved on."""

    __tablename__ = "api_tokens"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The user's session_epoch when issued: a password change or "log out everywhere" voids the token.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[created_at]
    expires_at: Mapped[timestamp]
    last_used_at: Mapped[timestamp]
    revoked_at: Mapped[timestamp]

    user: Mapped[User] = relationship()

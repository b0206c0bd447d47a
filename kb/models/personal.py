"""A person's own corner of the library: favourites (收藏) and recently viewed (最近浏览)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.models.base import Base, UTCDateTime, created_at, intpk, utcnow
from kb.models.indicator import Indicator


class Favourite(Base):
    __tablename__ = "favourites"
    __table_args__ = (UniqueConstraint("user_id", "indicator_id", name="uq_favourites_user_indicator"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"))
    created_at: Mapped[created_at]

    indicator: Mapped[Indicator] = relationship()


class RecentView(Base):
    """The last time a user opened an indicator (one row per user and indicator)."""

    __tablename__ = "recent_views"
    __table_args__ = (UniqueConstraint("user_id", "indicator_id", name="uq_recent_views_user_indicator"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"))
    viewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    indicator: Mapped[Indicator] = relationship()

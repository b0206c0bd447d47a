"""Declarative base, naming convention and reusable column types."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import JSON, DateTime, Enum, MetaData, String, TypeDecorator, func
from sqlalchemy.orm import DeclarativeBase, mapped_column

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on both backends (SQLite drops tzinfo; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


intpk = Annotated[int, mapped_column(primary_key=True)]
code_str = Annotated[str, mapped_column(String(32))]
name_str = Annotated[str, mapped_column(String(200))]
short_str = Annotated[str, mapped_column(String(50))]
text_list = Annotated[list[str], mapped_column(JSON, default=list)]
created_at = Annotated[dt.datetime, mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())]
timestamp = Annotated[dt.datetime | None, mapped_column(UTCDateTime())]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, dt.datetime: UTCDateTime()}


def str_enum(enum_class) -> Enum:
    """Store a ``StrEnum`` by its value (the Chinese word or CONTRACT token), as VARCHAR everywhere."""
    return Enum(
        enum_class,
        values_callable=lambda members: [member.value for member in members],
        native_enum=False,
        validate_strings=True,
        length=max(len(member.value) for member in enum_class) + 8,
    )

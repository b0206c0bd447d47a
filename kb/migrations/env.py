"""Alembic environment: runs on the connection handed over by :mod:`kb.migrations` (online only)."""
from __future__ import annotations

from alembic import context

from kb.models import Base
from kb.models.base import UTCDateTime


def render_item(type_, obj, autogen_context):
    """Write our own column types as plain SQLAlchemy types so revisions never import model code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("请用 kb db upgrade 运行迁移（需要数据库连接）。")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        render_item=render_item,
        # SQLite cannot ALTER most things: batch mode rebuilds the table (a no-op on PostgreSQL).
        render_as_batch=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()

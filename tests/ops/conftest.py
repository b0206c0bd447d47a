"""Ops tests share the per-test database of tests/conftest.py; on PostgreSQL that database lives for
the whole session, so the Alembic version row these tests write (or set back on purpose) is removed
before and after each test: every test starts from an unversioned ``create_all`` schema."""
from __future__ import annotations

import pytest
from sqlalchemy import text


@pytest.fixture(autouse=True)
def unversioned(database_url: str):
    from kb.db import make_engine

    engine = make_engine(database_url)

    def drop() -> None:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))

    drop()
    yield
    drop()
    engine.dispose()

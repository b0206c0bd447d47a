"""Shared fixtures: a clean database per test (SQLite file, or PostgreSQL when
``KB_TEST_DATABASE_URL`` is set), the app, its test client and CLI runner, and factories.

Speed: loading the YAML seed takes seconds, so it is loaded once per run (:func:`seed_snapshot`) and
copied into each test's database that asks for it (``seeded``, and ``world`` in tests/webapp): SQLite
copies a prepared file with the online backup API, PostgreSQL copies the rows from a snapshot schema.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from kb import SEED_DIR
from kb.db import create_schema, make_engine, make_session_factory
from kb.models import Base, Department, Indicator, IndicatorSet
from kb.services.audit import Actor
from kb.services.library import apply_indicator_fields, load_library, parse_library
from kb.schemas import IndicatorSchema
from kb.vocab import SetStatus

POSTGRES_URL = os.environ.get("KB_TEST_DATABASE_URL")
# Encoding the seed's 300 indicators with the sentence model takes seconds; most tests load the seed, so they run
# with words only. The meaning tests, the relevance floor and the browser tests switch it on.
os.environ.setdefault("SEARCH_MEANING", "false")
SEED_PATHS = [SEED_DIR / "departments", SEED_DIR / "indicators" / "common.yaml"]


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine | None]:
    if not POSTGRES_URL:
        yield None
        return
    engine = make_engine(POSTGRES_URL)
    Base.metadata.drop_all(engine)
    create_schema(engine)
    yield engine
    engine.dispose()


class SeedSnapshot:
    """The schema, empty and with the seed, built once per run; copied into a test's database on demand."""

    SCHEMA = "kb_seed"  # PostgreSQL: where the seeded rows are kept between tests

    def __init__(self, folder: Path, postgres_engine: Engine | None) -> None:
        self.postgres_engine = postgres_engine
        self.empty_file = folder / "empty.sqlite3"
        self.seeded_file = folder / "seeded.sqlite3"
        self._built = False
        if postgres_engine is None:
            self._build_sqlite(self.empty_file, with_seed=False)

    def _build(self) -> None:
        # Built on first use only, so a run that never asks for the seed does not pay for it.
        if self._built:
            return
        if self.postgres_engine is None:
            self._build_sqlite(self.seeded_file, with_seed=True)
        else:
            self._build_postgres(self.postgres_engine)
        self._built = True

    @staticmethod
    def _build_sqlite(path: Path, with_seed: bool) -> None:
        engine = make_engine(f"sqlite:///{path}")
        create_schema(engine)
        if with_seed:
            _load_seed(engine)
        engine.dispose()  # the last connection checkpoints the WAL: the file alone is the database

    def _build_postgres(self, engine: Engine) -> None:
        _truncate(engine)
        _load_seed(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {self.SCHEMA} CASCADE")
            connection.exec_driver_sql(f"CREATE SCHEMA {self.SCHEMA}")
            for table in Base.metadata.sorted_tables:
                connection.exec_driver_sql(f'CREATE TABLE {self.SCHEMA}."{table.name}" AS TABLE public."{table.name}"')
        _truncate(engine)

    def new_sqlite_database(self, path: Path) -> None:
        """An empty database with the schema at ``path`` (no connection is open on it yet)."""
        shutil.copyfile(self.empty_file, path)

    def restore(self, engine: Engine) -> None:
        """Replace the content of ``engine``'s database by the seed (connections may be pooled, none in use)."""
        self._build()
        if engine.dialect.name == "sqlite":
            source = sqlite3.connect(self.seeded_file)
            target = sqlite3.connect(engine.url.database, timeout=30)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            return
        tables = Base.metadata.sorted_tables
        _truncate(engine)
        with engine.begin() as connection:
            for table in tables:
                connection.exec_driver_sql(f'INSERT INTO public."{table.name}" SELECT * FROM {self.SCHEMA}."{table.name}"')
            for table in tables:
                for column in table.primary_key.columns:
                    if column.autoincrement is True or (column.autoincrement == "auto" and column.type.python_type is int):
                        connection.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                            f'COALESCE(MAX("{column.name}"), 1), MAX("{column.name}") IS NOT NULL) FROM "{table.name}"')


def _load_seed(engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        load_library(session, Actor.system("测试"), parse_library(session, SEED_PATHS))
        session.commit()


_CAN_SKIP_TRIGGERS: list[bool] = []  # learnt on first use: may this user set session_replication_role?


def _truncate(engine: Engine) -> None:
    """Empty every table and restart the identities (a clean PostgreSQL database for the next test).

    DELETE of the few rows a test leaves is some 30 times faster than TRUNCATE of every table (which
    replaces each table's files), but the audit log's trigger refuses deletes: a superuser (as in CI)
    switches triggers off for this transaction; any other user gets TRUNCATE.
    """
    tables = Base.metadata.sorted_tables
    if _CAN_SKIP_TRIGGERS != [False]:
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
                for table in reversed(tables):
                    connection.exec_driver_sql(f'DELETE FROM "{table.name}"')
                connection.exec_driver_sql(
                    "SELECT setval(c.oid, 1, false) FROM pg_class c "
                    "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace")
            _CAN_SKIP_TRIGGERS[:] = [True]
            return
        except DBAPIError:
            if _CAN_SKIP_TRIGGERS == [True]:
                raise
            _CAN_SKIP_TRIGGERS[:] = [False]
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(table.name for table in tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def seed_snapshot(tmp_path_factory, postgres_engine: Engine | None) -> SeedSnapshot:
    """The seed loaded once for the whole run (see :class:`SeedSnapshot`)."""
    return SeedSnapshot(tmp_path_factory.mktemp("seed"), postgres_engine)


@pytest.fixture
def database_url(tmp_path: Path, postgres_engine: Engine | None, seed_snapshot: SeedSnapshot) -> Iterator[str]:
    """A URL to an empty database with the schema; cleaned after the test."""
    if postgres_engine is None:
        path = tmp_path / "kb.sqlite3"
        seed_snapshot.new_sqlite_database(path)
        yield f"sqlite:///{path}"
        return
    yield POSTGRES_URL
    _truncate(postgres_engine)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session the test may commit; it is closed (and the database cleaned) afterwards."""
    factory = make_session_factory(engine)
    with factory() as session:
        yield session
        session.rollback()


@pytest.fixture
def actor() -> Actor:
    return Actor.system("测试")


@pytest.fixture
def app(tmp_path: Path, database_url: str):
    from webapp import create_app

    app = create_app({
        "TESTING": True,
        "KB_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "KB_SECRET_KEY": "test-secret",
    })
    yield app
    app.extensions["kb"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(tmp_path: Path, database_url: str, monkeypatch) -> CliRunner:
    """Invokes the ``kb`` command against the test database and data directory."""
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KB_SECRET_KEY", "test-secret")
    return CliRunner()


@pytest.fixture
def seeded(session: Session, engine: Engine, seed_snapshot: SeedSnapshot) -> Session:
    """The session with the YAML seed of ``kb/`` loaded and committed."""
    session.rollback()  # no transaction may hold the database while it is replaced
    seed_snapshot.restore(engine)
    session.expire_all()
    return session


def indicator_data(**overrides: Any) -> dict[str, Any]:
    """A valid indicator in its YAML form, with ``overrides`` applied."""
    data: dict[str, Any] = {
        "code": "T-001",
        "name": "测试覆盖率",
        "level1": "产出指标",
        "level2": "质量指标",
        "nature": "定量",
        "operator": "≥",
        "target": "95",
        "unit": "%",
        "definition": "测试用指标。",
        "formula": "覆盖数 ÷ 总数 × 100%",
        "basis": [{"kind": "计划标准", "title": "测试方案"}],
        "data_source": "测试台账",
        "projects": ["测试项目"],
        "keywords": ["测试"],
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_department(session: Session):
    def make(code: str = "901", name: str = "测试局", status: SetStatus | None = SetStatus.DRAFT, **fields) -> Department:
        department = Department(code=code, name=name, functions=fields.pop("functions", []), **fields)
        session.add(department)
        if status is not None:
            session.add(IndicatorSet(department=department, year=2025, version=1, status=status, is_current=True))
        session.flush()
        return department

    return make


@pytest.fixture
def make_indicator(session: Session):
    def make(department: Department | None = None, **overrides: Any) -> Indicator:
        loaded = IndicatorSchema().load(indicator_data(**overrides))
        indicator = Indicator(code=loaded["code"], department=department, position=0)
        apply_indicator_fields(indicator, loaded)
        session.add(indicator)
        session.flush()
        return indicator

    return make

"""Shared fixtures: a clean database per test (SQLite file, or PostgreSQL when
``KB_TEST_DATABASE_URL`` is set), the app, its test client and CLI runner, and factories."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from kb import SEED_DIR
from kb.db import create_schema, make_engine, make_session_factory
from kb.models import Base, Department, Indicator, IndicatorSet
from kb.services.audit import Actor
from kb.services.library import apply_indicator_fields, load_library, parse_library
from kb.schemas import IndicatorSchema
from kb.vocab import SetStatus

POSTGRES_URL = os.environ.get("KB_TEST_DATABASE_URL")
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


@pytest.fixture
def database_url(tmp_path: Path, postgres_engine: Engine | None) -> Iterator[str]:
    """A URL to an empty database with the schema; cleaned after the test."""
    if postgres_engine is None:
        url = f"sqlite:///{tmp_path / 'kb.sqlite3'}"
        engine = make_engine(url)
        create_schema(engine)
        engine.dispose()
        yield url
        return
    yield POSTGRES_URL
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with postgres_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


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
    state = app.extensions["kb"]
    state.search.close()
    state.engine.dispose()


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
def seeded(session: Session, actor: Actor) -> Session:
    """The session with the YAML seed of ``kb/`` loaded and committed."""
    load_library(session, actor, parse_library(session, SEED_PATHS))
    session.commit()
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

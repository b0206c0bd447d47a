"""Alembic migrations: an empty database upgraded to head matches the models; a database made by
release 0.1.0 (revision 0001) keeps its data when upgraded; unversioned databases are adopted."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, MetaData, func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine import make_url

from kb.db import make_engine, make_session_factory
from kb.migrations import BASELINE, BASELINE_TABLES, current_revision, head_revision, schema_differences, upgrade_database
from kb.models import AuditEntry, Base, Department, Indicator, User
from tests.conftest import POSTGRES_URL


def _admin_conninfo(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    return admin.render_as_string(hide_password=False), parsed.database


@pytest.fixture
def empty_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a brand-new empty database (its own PostgreSQL database when testing on PostgreSQL)."""
    if not POSTGRES_URL:
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")
        yield engine
        engine.dispose()
        return
    admin, name = _admin_conninfo(POSTGRES_URL)
    scratch = f"{name}_migrations"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{scratch}"')
    engine = make_engine(make_url(POSTGRES_URL).set(database=scratch).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def test_upgrade_head_on_empty_database_matches_the_models(empty_engine: Engine) -> None:
    before, after = upgrade_database(empty_engine)
    assert (before, after) == (None, head_revision())
    assert schema_differences(empty_engine) == []


def _fill_release_0_1_0(engine: Engine) -> None:
    """Data as release 0.1.0 wrote it: plain inserts against the reflected 0001 schema (no model code)."""
    tables = MetaData()
    tables.reflect(engine)
    now = dt.datetime(2026, 1, 5, 8, 30)
    with engine.begin() as connection:
        connection.execute(insert(tables.tables["departments"]), [
            {"id": 1, "code": "101", "name": "县教育局", "parent_id": None, "pilot": True,
             "functions": ["统筹全县教育"], "created_at": now},
            {"id": 2, "code": "101001", "name": "县第一中学", "parent_id": 1, "pilot": False,
             "functions": [], "created_at": now},
        ])
        connection.execute(insert(tables.tables["users"]), [{
            "id": 1, "username": "caizheng", "display_name": "财政股", "role": "finance", "department_id": None,
            "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$xx$yy", "is_active": True, "failed_logins": 0,
            "session_epoch": 0, "created_at": now,
        }])
        connection.execute(insert(tables.tables["indicator_sets"]), [{
            "id": 1, "department_id": 1, "year": 2025, "version": 1, "status": "certified", "is_current": True,
            "frozen_indicators": [{"code": "JY-001"}], "created_at": now, "certified_at": now,
            "certified_by_id": 1, "row_version": 3,
        }])
        connection.execute(insert(tables.tables["indicators"]), [{
            "id": 1, "code": "JY-001", "department_id": 1, "position": 0, "name": "学生资助政策覆盖率",
            "level1": "效益指标", "level2": "社会效益指标", "nature": "定量", "operator": "≥", "target": "100",
            "unit": "%", "definition": "符合条件的学生获得资助的比例。", "formula": "获得资助数 ÷ 符合条件数 × 100%",
            "data_source": "学生资助管理信息系统", "evidence": "", "remarks": "", "projects": ["学生资助"],
            "keywords": ["助学金", "资助"], "state": "active", "created_at": now, "row_version": 2,
        }])
        connection.execute(insert(tables.tables["indicator_basis"]), [{
            "id": 1, "indicator_id": 1, "position": 0, "kind": "政策文件", "title": "学生资助资金管理办法",
            "doc_no": "财教〔2021〕310号",
        }])
        connection.execute(insert(tables.tables["audit_log"]), [{
            "id": 1, "at": now, "actor": "caizheng", "actor_role": "finance", "remote_addr": "10.0.0.8",
            "action": "certify", "entity_type": "indicator_set", "entity_key": "101", "summary": "认证",
            "before": {"status": "confirmed"}, "after": {"status": "certified"},
        }])


def test_database_of_release_0_1_0_keeps_its_data_when_upgraded(empty_engine: Engine) -> None:
    upgrade_database(empty_engine, BASELINE)
    assert current_revision(empty_engine) == BASELINE
    assert set(inspect(empty_engine).get_table_names()) == BASELINE_TABLES | {"alembic_version"}
    _fill_release_0_1_0(empty_engine)

    assert upgrade_database(empty_engine) == (BASELINE, head_revision())
    assert schema_differences(empty_engine) == []
    with make_session_factory(empty_engine)() as session:
        indicator = session.scalar(select(Indicator).where(Indicator.code == "JY-001"))
        assert indicator.name == "学生资助政策覆盖率" and indicator.keywords == ["助学金", "资助"]
        assert indicator.department.code == "101" and indicator.row_version == 2
        assert [(b.kind.value, b.doc_no) for b in indicator.basis] == [("政策文件", "财教〔2021〕310号")]
        education = session.scalar(select(Department).where(Department.code == "101"))
        assert [child.code for child in education.children] == ["101001"]
        assert education.current_set.status.value == "certified" and education.current_set.certified_by.username == "caizheng"
        assert session.scalar(select(User.role).where(User.username == "caizheng")).value == "finance"
        entry = session.scalar(select(AuditEntry))
        assert entry.after == {"status": "certified"} and entry.at == dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.timezone.utc)


def test_database_made_by_create_all_is_adopted_at_head(empty_engine: Engine) -> None:
    Base.metadata.create_all(empty_engine)
    assert upgrade_database(empty_engine) == (None, head_revision())
    assert schema_differences(empty_engine) == []
    _assert_audit_rows_cannot_change(empty_engine)


def test_unversioned_0_1_0_database_is_stamped_at_baseline_then_upgraded(empty_engine: Engine) -> None:
    baseline = [Base.metadata.tables[name] for name in BASELINE_TABLES]
    Base.metadata.create_all(empty_engine, tables=baseline)
    upgrade_database(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert schema_differences(empty_engine) == []


def test_upgrade_is_idempotent(empty_engine: Engine) -> None:
    upgrade_database(empty_engine)
    assert upgrade_database(empty_engine) == (head_revision(), head_revision())


def _assert_audit_rows_cannot_change(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(insert(AuditEntry.__table__).values(
            actor="a", actor_role="admin", remote_addr="", action="x", entity_type="t", entity_key="k", summary="",
        ))
    for statement in ("UPDATE audit_log SET summary = 'forged'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="审计日志"):
            with engine.begin() as connection:
                connection.execute(text(statement))
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_migrations_install_the_audit_log_protection(empty_engine: Engine) -> None:
    upgrade_database(empty_engine)
    _assert_audit_rows_cannot_change(empty_engine)

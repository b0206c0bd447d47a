"""Backups restore exactly: online copy (SQLite backup API / pg_dump), manifest digests, restore
into a clean database, damaged sets refused, old sets pruned."""
from __future__ import annotations

import errno
import filecmp
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import make_url

from kb.backup import (
    BackupError, backup_database, compare_digests, prune_backups, read_manifest, resolve_backup_set, restore_database,
    table_digests,
)
from kb.db import make_engine, make_session_factory
from kb.migrations import current_revision, head_revision, upgrade_database
from kb.models import Department
from kb.services.library import export_library
from tests.conftest import POSTGRES_URL


@pytest.fixture
def scratch_engine(tmp_path: Path) -> Iterator[Engine]:
    """A second, empty database: where a backup is restored (a clean machine)."""
    if not POSTGRES_URL:
        engine = make_engine(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
        yield engine
        engine.dispose()
        return
    url = make_url(POSTGRES_URL)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    name = f"{url.database}_restore"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _backup(session, engine: Engine, directory: Path):
    return backup_database(engine, directory, export_yaml=lambda path: export_library(session, path), revision="test")


def test_backup_restores_exactly_into_a_clean_database(seeded, engine: Engine, scratch_engine: Engine, tmp_path: Path) -> None:
    report = _backup(seeded, engine, tmp_path / "backups")
    assert report.path.parent == tmp_path / "backups" and report.tables["indicators"]["rows"] >= 300
    assert report.tables == table_digests(engine)  # the manifest describes the live data at backup time

    manifest = restore_database(scratch_engine, report.path)
    assert table_digests(scratch_engine) == manifest["tables"] == report.tables
    with make_session_factory(scratch_engine)() as restored:
        export_library(restored, tmp_path / "again")
    comparison = filecmp.dircmp(report.path / "yaml" / "departments", tmp_path / "again" / "departments")
    assert comparison.diff_files == [] and comparison.left_only == [] and comparison.right_only == []
    assert len(comparison.same_files) == 77


def test_restore_overwrites_later_changes(seeded, engine: Engine, scratch_engine: Engine, tmp_path: Path) -> None:
    report = _backup(seeded, engine, tmp_path / "backups")
    restore_database(scratch_engine, report.path)
    with scratch_engine.begin() as connection:
        connection.execute(insert(Department).values(code="999", name="后来新增", pilot=False, functions=[]))
    assert compare_digests(report.tables, table_digests(scratch_engine)) == ["表 departments：备份 77 行，现有 78 行，内容不同"]
    restore_database(scratch_engine, report.path)
    with scratch_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Department).where(Department.code == "999")) == 0


def test_restored_database_of_an_older_revision_is_upgraded(seeded, engine: Engine, scratch_engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as connection:  # the shared PostgreSQL test database may carry an old version row
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    try:
        upgrade_database(engine)  # stamps the create_all schema at head
        report = _backup(seeded, engine, tmp_path / "backups")
        restore_database(scratch_engine, report.path)
        assert current_revision(scratch_engine) == head_revision()
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


@pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite online backup API under a concurrent writer")
def test_online_backup_while_someone_keeps_saving(seeded, engine: Engine, scratch_engine: Engine, tmp_path: Path) -> None:
    stop = threading.Event()
    written: list[str] = []

    def keep_saving() -> None:
        writer = make_engine(str(engine.url))
        number = 0
        while not stop.is_set():
            number += 1
            with writer.begin() as connection:
                connection.execute(insert(Department).values(code=f"W{number}", name="并发写入", pilot=False, functions=[]))
            written.append(f"W{number}")
        writer.dispose()

    thread = threading.Thread(target=keep_saving)
    thread.start()
    try:
        report = _backup(seeded, engine, tmp_path / "backups")
    finally:
        stop.set()
        thread.join()
    assert written, "the writer ran during the backup"
    manifest = restore_database(scratch_engine, report.path)  # raises when the copy differs from its manifest
    with scratch_engine.connect() as connection:
        copied = connection.scalar(select(func.count()).select_from(Department).where(Department.code.like("W%")))
    assert manifest["tables"]["departments"]["rows"] == 77 + copied and copied <= len(written)


def test_damaged_or_incomplete_backup_is_refused(seeded, engine: Engine, scratch_engine: Engine, tmp_path: Path) -> None:
    report = _backup(seeded, engine, tmp_path / "backups")
    yaml_file = next((report.path / "yaml" / "departments").glob("*.yaml"))
    yaml_file.write_text(yaml_file.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    with pytest.raises(BackupError, match="已损坏"):
        restore_database(scratch_engine, report.path)
    yaml_file.unlink()
    with pytest.raises(BackupError, match="缺少文件"):
        read_manifest(report.path)
    (report.path / "manifest.json").unlink()
    with pytest.raises(BackupError, match="不是完整的备份"):
        read_manifest(report.path)


def test_backup_from_another_database_kind_is_refused(seeded, engine: Engine, scratch_engine: Engine, tmp_path: Path) -> None:
    report = _backup(seeded, engine, tmp_path / "backups")
    manifest_path = report.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["database"] = "oracle"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BackupError, match="不能直接恢复"):
        restore_database(scratch_engine, report.path)


def test_disk_full_during_backup_leaves_no_half_written_set(seeded, engine: Engine, tmp_path: Path, monkeypatch) -> None:
    """Simulated ENOSPC (the real full-disk run is in benchmarks/faults.py)."""
    def full_disk(path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(BackupError, match="磁盘空间"):
        backup_database(engine, tmp_path / "backups", export_yaml=full_disk)
    assert list((tmp_path / "backups").iterdir()) == []


def test_prune_keeps_the_newest_sets(tmp_path: Path) -> None:
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        (tmp_path / f"kb-{stamp}").mkdir()
    (tmp_path / "kb-20260104T000000Z.partial").mkdir()
    gone = prune_backups(tmp_path, keep=2)
    assert sorted(path.name for path in gone) == ["kb-20260101T000000Z", "kb-20260104T000000Z.partial"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kb-20260102T000000Z", "kb-20260103T000000Z"]


def test_a_folder_of_backups_resolves_to_its_newest_complete_set(tmp_path: Path) -> None:
    for stamp in ("20260101T000000Z", "20260103T000000Z", "20260102T000000Z"):
        (tmp_path / f"kb-{stamp}").mkdir()
        (tmp_path / f"kb-{stamp}" / "manifest.json").write_text("{}", encoding="utf-8")
    (tmp_path / "kb-20260104T000000Z.partial").mkdir()  # interrupted: not a set
    (tmp_path / "kb-20260105T000000Z").mkdir()  # no manifest: not a set
    assert resolve_backup_set(tmp_path) == (tmp_path / "kb-20260103T000000Z", True)
    assert resolve_backup_set(tmp_path / "kb-20260101T000000Z") == (tmp_path / "kb-20260101T000000Z", False)


def test_a_folder_without_backups_is_refused_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="没有完整的备份"):
        resolve_backup_set(tmp_path)


def test_audit_archive_moves_only_rows_past_retention(engine: Engine, tmp_path: Path) -> None:
    import datetime as dt

    from kb.backup import archive_audit_log
    from kb.models import AuditEntry

    now = dt.datetime.now(dt.timezone.utc)
    rows = [dict(actor="a", actor_role="admin", remote_addr="", action=f"x{days}", entity_type="t", entity_key="k",
                 summary="", at=now - dt.timedelta(days=days)) for days in (400, 200, 100)]
    with engine.begin() as connection:
        connection.execute(insert(AuditEntry), rows)
    with engine.begin() as connection:  # a setting below the legal floor is raised to 184 days
        moved, path = archive_audit_log(connection, tmp_path / "archive", retention_days=30, now=now)
    assert moved == 2 and path.read_text(encoding="utf-8").count("\n") == 2
    assert path.with_name(path.name + ".sha256").read_text(encoding="utf-8").split()[1] == path.name
    with engine.connect() as connection:
        assert connection.scalars(select(AuditEntry.action)).all() == ["x100"]
    with engine.begin() as connection:
        assert archive_audit_log(connection, tmp_path / "archive", retention_days=365, now=now) == (0, None)

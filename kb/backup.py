"""Online backup, verification and restore (security.md REL-6).

A backup set is a folder ``kb-YYYYMMDDTHHMMSSZ`` holding:

- ``database.sqlite3`` (SQLite online backup API: consistent while the app keeps working) or
  ``database.dump`` (``pg_dump --format=custom``);
- ``yaml/``: the library in the YAML form of CONTRACT §4 (readable without this software);
- ``manifest.json``: revision, row count and content digest of every table, SHA-256 of every file.

The search index is not backed up: it is rebuilt from the database after a restore (REL-4).
Uploads waiting for confirmation are not either (issue 14 item 3): they are temporary copies of
people's files, unconfirmed and expiring within the hour; backing them up only multiplied them.
Secrets (``secret_key``) are not copied either.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, select
from sqlalchemy.engine import make_url

from kb.db import make_engine
from kb.errors import KbError

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"
FORMAT_VERSION = 1


class BackupError(KbError):
    """A backup could not be written, or a backup set is incomplete or damaged."""


@dataclass
class BackupReport:
    path: Path
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(table["rows"] for table in self.tables.values())


def table_digests(engine: Engine) -> dict[str, dict[str, Any]]:
    """Row count and a SHA-256 of the content of every table (rows in primary-key order).

    Two databases with equal digests hold the same data, whatever the backend's storage.
    """
    with engine.connect() as connection:
        return connection_digests(connection)


def connection_digests(connection: Connection) -> dict[str, dict[str, Any]]:
    """:func:`table_digests` inside the caller's transaction (one snapshot)."""
    metadata = MetaData()
    metadata.reflect(connection)
    digests: dict[str, dict[str, Any]] = {}
    for name, table in sorted(metadata.tables.items()):
        order = list(table.primary_key.columns) or list(table.columns)
        digest, count = hashlib.sha256(), 0
        for row in connection.execute(select(table).order_by(*order)):
            digest.update(_canonical(row._mapping).encode("utf-8"))
            digest.update(b"\n")
            count += 1
        digests[name] = {"rows": count, "sha256": digest.hexdigest()}
    return digests


def _canonical(mapping) -> str:
    def value(item: Any) -> Any:
        if isinstance(item, dt.datetime):
            # SQLite keeps naive UTC, PostgreSQL aware UTC: compare the instant.
            item = item if item.tzinfo is None else item.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return item.isoformat()
        if isinstance(item, (dt.date, dt.time)):
            return item.isoformat()
        if isinstance(item, str) and item[:1] in "[{":
            try:  # JSON stored as text (SQLite) and as json (PostgreSQL) compare equal
                return json.loads(item)
            except ValueError:
                return item
        return item

    return json.dumps({key: value(item) for key, item in mapping.items()}, ensure_ascii=False, sort_keys=True, default=str)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_database(
    engine: Engine,
    directory: Path,
    *,
    export_yaml=None,
    revision: str | None = None,
    now: dt.datetime | None = None,
) -> BackupReport:
    """Write a verified backup set under ``directory``; return what it holds.

    ``export_yaml(path)`` writes the YAML export (the caller passes
    ``kb.services.library.export_library`` bound to a session). The copy is checked before this
    returns (SQLite: ``integrity_check`` of the copy, digests read from the copy; PostgreSQL:
    digests read in the snapshot pg_dump dumps). :func:`restore_database` compares against them.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    target = Path(directory) / f"kb-{now:%Y%m%dT%H%M%SZ}"
    if target.exists():
        raise BackupError(f"备份目录 {target} 已存在，请稍后再试或换一个目录。")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir(parents=True, mode=0o700)
        report = BackupReport(path=target)
        if engine.dialect.name == "sqlite":
            copy = partial / SQLITE_FILE
            _sqlite_backup(engine, copy)
            copy_engine_digests = _sqlite_file_digests(copy)
            report.tables = copy_engine_digests
        elif engine.dialect.name == "postgresql":
            report.tables = _pg_dump(engine, partial / PG_FILE)
        else:
            raise BackupError(f"不支持备份 {engine.dialect.name} 数据库。")
        if export_yaml is not None:
            export_yaml(partial / "yaml")
        report.files = {
            str(path.relative_to(partial)): _sha256(path)
            for path in sorted(partial.rglob("*")) if path.is_file()
        }
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": now.isoformat(),
            "database": engine.dialect.name,
            "revision": revision,
            "tables": report.tables,
            "files": report.files,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        partial.rename(target)  # a set without .partial is complete
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise BackupError(f"写入备份失败（{error.strerror or error}）：{target}。请检查磁盘空间和目录权限。") from error
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return report


def _sqlite_path(engine: Engine) -> Path:
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        raise BackupError("内存数据库无法备份。")
    return Path(database)


def _sqlite_backup(engine: Engine, copy: Path) -> None:
    """Copy page by page with the online backup API: writers may keep working meanwhile."""
    source = sqlite3.connect(_sqlite_path(engine), timeout=30)
    destination = sqlite3.connect(copy)
    try:
        source.backup(destination, pages=1024)
        problems = destination.execute("PRAGMA integrity_check").fetchall()
        if problems != [("ok",)]:
            raise BackupError(f"备份副本完整性检查失败：{problems[:3]}")
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        destination.close()
        source.close()


def _sqlite_file_digests(path: Path) -> dict[str, dict[str, Any]]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        return table_digests(engine)
    finally:
        engine.dispose()


@contextmanager
def _libpq(engine: Engine) -> Iterator[str]:
    """A libpq connection string for pg_dump/pg_restore; the password goes through a 0600 passfile,
    never the command line (visible in ``ps``) or the environment."""
    url = make_url(str(engine.url))
    parts = {"host": url.host or "localhost", "port": url.port or 5432, "user": url.username, "dbname": url.database}
    with tempfile.TemporaryDirectory() as scratch:
        if url.password:
            passfile = Path(scratch) / "pgpass"
            passfile.touch(mode=0o600)
            passfile.write_text(f"*:*:*:*:{url.password}\n", encoding="utf-8")
            parts["passfile"] = str(passfile)
        yield " ".join(f"{key}={value}" for key, value in parts.items() if value is not None)


def _run(command: list[str], what: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise BackupError(f"找不到 {command[0]}：请安装与服务器版本一致的 PostgreSQL 客户端工具。") from error
    if result.returncode != 0:
        raise BackupError(f"{what}失败：{result.stderr.strip()[:500]}")


def _pg_dump(engine: Engine, path: Path) -> dict[str, dict[str, Any]]:
    """Dump inside an exported snapshot, and take the digests in that same snapshot: the manifest
    describes exactly what the dump holds even while users keep saving."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        digests = connection_digests(connection)
        with _libpq(engine) as conninfo:
            _run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                 f"--file={path}", f"--dbname={conninfo}"],
                "pg_dump 备份",
            )
    return digests


def backup_sets(directory: Path) -> list[Path]:
    """The complete backup sets written by :func:`backup_database` inside ``directory``, oldest first.

    The folder names carry the UTC time (``kb-YYYYMMDDTHHMMSSZ``), so name order is time order;
    ``.partial`` folders (an interrupted backup) are not sets.
    """
    return sorted(
        path for path in Path(directory).glob("kb-*")
        if path.is_dir() and not path.name.endswith(".partial") and (path / MANIFEST).is_file()
    )


def resolve_backup_set(path: Path) -> tuple[Path, bool]:
    """The backup set ``path`` names: ``path`` itself when it is one, else its newest set.

    ``kb backup DIR`` writes a dated set inside DIR; ``kb restore DIR`` therefore accepts DIR too.
    Returns ``(set, chosen)`` where ``chosen`` says the newest set was picked from a folder.
    """
    path = Path(path)
    if (path / MANIFEST).is_file():
        return path, False
    sets = backup_sets(path)
    if not sets:
        raise BackupError(f"{path} 既不是备份（缺少 {MANIFEST}），其中也没有完整的备份（kb-YYYYMMDDTHHMMSSZ 目录）。")
    return sets[-1], True


def read_manifest(backup_dir: Path) -> dict[str, Any]:
    """The manifest of a backup set, after checking every file's SHA-256 against it."""
    backup_dir = Path(backup_dir)
    path = backup_dir / MANIFEST
    if not path.is_file():
        raise BackupError(f"{backup_dir} 不是完整的备份（缺少 {MANIFEST}）。")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for name, expected in manifest["files"].items():
        file = backup_dir / name
        if not file.is_file():
            raise BackupError(f"备份不完整：缺少文件 {name}。")
        if _sha256(file) != expected:
            raise BackupError(f"备份已损坏：文件 {name} 的校验值与清单不符。")
    return manifest


def restore_database(engine: Engine, backup_dir: Path,
                     stage: Callable[[str], None] = lambda step: None) -> dict[str, Any]:
    """Replace the database behind ``engine`` with the backup's; return the manifest. ``stage`` hears each step
    as it starts (a restore of a large library takes minutes: the command line says where it is).

    Stop the web service first (docs/deploy.md). Afterwards the caller upgrades the schema if the
    backup is from an older release and rebuilds the search index. Raises BackupError when the
    set is damaged or when the restored content differs from what the manifest recorded.
    """
    backup_dir = Path(backup_dir)
    manifest = read_manifest(backup_dir)
    kind = engine.dialect.name
    if manifest["database"] != kind:
        raise BackupError(
            f"该备份来自 {manifest['database']} 数据库，不能直接恢复到 {kind}。"
            "请用备份中的 yaml/ 目录通过 kb init --no-seed 与 kb load 迁移。"
        )
    engine.dispose()  # nobody of ours holds the old file or connections
    stage("复制备份中的数据库")
    if kind == "sqlite":
        source = sqlite3.connect(backup_dir / SQLITE_FILE)
        destination = sqlite3.connect(_sqlite_path(engine), timeout=30)
        try:
            source.backup(destination)
        finally:
            destination.close()
            source.close()
    else:
        with _libpq(engine) as conninfo:
            _run(
                ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                 f"--dbname={conninfo}", str(backup_dir / PG_FILE)],
                "pg_restore 恢复",
            )
    stage(f"逐表核对恢复的内容（{len(manifest['tables'])} 张表）")
    restored = table_digests(engine)
    differences = compare_digests(manifest["tables"], restored)
    if differences:
        raise BackupError("恢复后的数据与备份清单不符：" + "；".join(differences[:5]))
    return manifest


def compare_digests(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> list[str]:
    """Tables whose rows differ, one Chinese line each (empty when identical)."""
    lines = []
    for name in sorted(expected.keys() | actual.keys()):
        want, have = expected.get(name), actual.get(name)
        if want is None:
            lines.append(f"表 {name} 不在备份中")
        elif have is None:
            lines.append(f"表 {name} 缺失")
        elif want != have:
            lines.append(f"表 {name}：备份 {want['rows']} 行，现有 {have['rows']} 行，内容{'一致' if want['sha256'] == have['sha256'] else '不同'}")
    return lines


def prune_backups(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` complete backup sets (and any stale ``.partial``); return what went."""
    sets = sorted(path for path in Path(directory).glob("kb-*") if path.is_dir() and not path.name.endswith(".partial"))
    stale = [path for path in Path(directory).glob("kb-*.partial") if path.is_dir()]
    doomed = (sets[:-keep] if keep > 0 else sets) + stale
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def archive_audit_log(connection: Connection, directory: Path, retention_days: int, now: dt.datetime | None = None) -> tuple[int, Path | None]:
    """Move audit rows older than the retention period to a JSON Lines file (with a .sha256 beside it)
    and delete them; return (rows moved, file). Never touches rows younger than the legal 184 days:
    the retention is raised to that floor, and the database triggers refuse such deletions anyway.
    """
    from kb.migrations.audit_protection import MINIMUM_RETENTION_DAYS
    from kb.models import AuditEntry

    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = now - dt.timedelta(days=max(retention_days, MINIMUM_RETENTION_DAYS))
    table = AuditEntry.__table__
    rows = connection.execute(select(table).where(table.c.at < cutoff).order_by(table.c.id)).all()
    if not rows:
        return 0, None
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"audit-{rows[0].id}-{rows[-1].id}-{now:%Y%m%dT%H%M%SZ}.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(_canonical(row._mapping) + "\n")
        stream.flush()
    path.with_name(path.name + ".sha256").write_text(f"{_sha256(path)}  {path.name}\n", encoding="utf-8")
    connection.execute(table.delete().where(table.c.id.in_([row.id for row in rows])))
    return len(rows), path

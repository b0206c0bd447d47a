"""``kb db upgrade``, ``kb init`` through migrations, ``kb backup`` / ``kb restore`` from the shell."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, delete, func, insert, select

from kb.migrations import current_revision, head_revision
from kb.models import AuditEntry, Department
from webapp.cli import main


def test_init_stamps_the_schema_and_db_upgrade_is_idempotent(runner, engine: Engine) -> None:
    result = runner.invoke(main, ["init", "--no-seed"])
    assert result.exit_code == 0, result.output
    assert current_revision(engine) == head_revision()
    again = runner.invoke(main, ["db", "upgrade"])
    assert again.exit_code == 0 and "已是最新" in again.output
    assert runner.invoke(main, ["db", "current"]).exit_code == 0


def test_db_current_fails_when_behind(runner, engine: Engine) -> None:
    runner.invoke(main, ["db", "upgrade"])
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    result = runner.invoke(main, ["db", "current"])
    assert result.exit_code == 1 and "kb db upgrade" in result.output


def test_backup_then_restore_from_the_shell(runner, engine: Engine, tmp_path: Path) -> None:
    assert runner.invoke(main, ["init"]).exit_code == 0
    result = runner.invoke(main, ["backup", str(tmp_path / "backups"), "--keep", "3"])
    assert result.exit_code == 0, result.output
    (backup_dir,) = (tmp_path / "backups").iterdir()
    assert (backup_dir / "manifest.json").is_file() and (backup_dir / "yaml" / "departments" / "101.yaml").is_file()
    with engine.begin() as connection:
        connection.execute(insert(Department).values(code="999", name="误操作新增", pilot=False, functions=[]))

    refused = runner.invoke(main, ["restore", str(backup_dir)], input="n\n")
    assert refused.exit_code != 0
    restored = runner.invoke(main, ["restore", "--yes", str(backup_dir)])
    assert restored.exit_code == 0, restored.output
    assert "内容与备份一致" in restored.output and "检索索引已重建" in restored.output
    # Each step says when it starts: copy, check, then the index rebuild's bar.
    steps = [restored.output.index(text) for text in ("复制备份中的数据库", "逐表核对恢复的内容", "内容与备份一致", "检索索引已重建")]
    assert steps == sorted(steps)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Department)) == 77
        actions = connection.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "database")).all()
    assert "restore" in actions  # the backup row itself was written after the copy, so it is not in it


def test_restore_of_the_folder_given_to_backup_takes_its_newest_set(runner, engine: Engine, tmp_path: Path) -> None:
    assert runner.invoke(main, ["init", "--no-seed"]).exit_code == 0
    folder = tmp_path / "backups"
    with engine.begin() as connection:
        connection.execute(insert(Department).values(code="999", name="误操作新增", pilot=False, functions=[]))
    assert runner.invoke(main, ["backup", str(folder)]).exit_code == 0
    (first,) = folder.iterdir()
    first.rename(folder / "kb-20000101T000000Z")  # an older, complete set that holds department 999
    with engine.begin() as connection:
        connection.execute(delete(Department))
    assert runner.invoke(main, ["backup", str(folder)]).exit_code == 0
    (newest,) = [path for path in folder.iterdir() if path.name != "kb-20000101T000000Z"]
    with engine.begin() as connection:
        connection.execute(insert(Department).values(code="999", name="误操作新增", pilot=False, functions=[]))

    result = runner.invoke(main, ["restore", "--yes", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"最新的备份：{newest}" in result.output and "内容与备份一致" in result.output
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Department)) == 0


def test_restore_of_a_damaged_set_fails_with_a_message(runner, tmp_path: Path) -> None:
    runner.invoke(main, ["init", "--no-seed"])
    runner.invoke(main, ["backup", str(tmp_path / "backups")])
    (backup_dir,) = (tmp_path / "backups").iterdir()
    (backup_dir / "manifest.json").write_text("{}", encoding="utf-8")
    result = runner.invoke(main, ["restore", "--yes", str(backup_dir)])
    assert result.exit_code == 1

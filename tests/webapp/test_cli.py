"""The ``kb`` command (CONTRACT §3)."""
from pathlib import Path

import yaml
from sqlalchemy import func, select

from kb.models import Department, Indicator, User
from webapp.cli import main
from tests.conftest import indicator_data


def test_init_loads_seed_and_is_idempotent(runner, engine):
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert "77 个部门" in result.output
    again = runner.invoke(main, ["init"])
    assert again.exit_code == 0 and "未重复导入" in again.output
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Indicator)) >= 280


def test_init_no_seed_gives_empty_library(runner, engine):
    assert runner.invoke(main, ["init", "--no-seed"]).exit_code == 0
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Department)) == 0


def test_load_broken_file_prints_every_problem_and_changes_nothing(runner, engine, tmp_path: Path):
    runner.invoke(main, ["init", "--no-seed"])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({
        "department": {"code": "901", "name": "测试局"},
        "indicator_set": {"year": 2025, "indicators": [indicator_data(unit="", level2="满意度")]},
    }, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(main, ["load", str(path)])
    assert result.exit_code == 1
    assert "未写入任何数据" in result.output
    assert "字段 unit" in result.output and "字段 level2" in result.output
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Department)) == 0


def test_export_load_round_trip_via_cli(runner, tmp_path: Path):
    assert runner.invoke(main, ["init"]).exit_code == 0
    assert runner.invoke(main, ["export", str(tmp_path / "out")]).exit_code == 0
    result = runner.invoke(main, ["load", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "新增 0" in result.output and "更新 0" in result.output


def test_users_add_reads_password_from_environment(runner, engine, monkeypatch):
    runner.invoke(main, ["init"])
    monkeypatch.setenv("KB_PASSWORD", "Qingshan#2025")
    result = runner.invoke(main, ["users", "add", "jiaoyu", "--role", "department", "--department", "101"])
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        assert connection.scalar(select(User.role).where(User.username == "jiaoyu")) == "department"
    refused = runner.invoke(main, ["users", "add", "nobody", "--role", "department"])
    assert refused.exit_code == 1 and "必须指定所属部门" in refused.output


def test_search_json_has_the_api_shape(runner):
    runner.invoke(main, ["init"])
    result = runner.invoke(main, ["search", "预算执行率", "--json"])
    assert result.exit_code == 0
    assert set(yaml.safe_load(result.output)) == {"total", "hits"}


def test_help_is_chinese_everywhere(runner):
    """Issue 16: parts of ``kb --help`` were English (click's Usage/Options/Show this message…)."""
    import click

    def every(command, path=()):
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from every(sub, (*path, name))

    for path in every(main):
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        for english in ("Usage:", "Options:", "Commands:", "Show this message", "[default:", "[required]"):
            assert english not in result.output, (path, english)
        assert result.output.startswith("用法：")
    assert isinstance(main, click.Group)

"""``kb init`` seeds the synonym groups; ``kb synonyms export [PATH]`` writes them in the YAML file's form."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from kb.models import SynonymGroup
from kb.services.audit import Actor
from kb.services.synonyms import SYNONYMS_PATH, add_group
from webapp.cli import main


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(SynonymGroup))


def test_init_seeds_the_groups_and_export_reproduces_the_file(runner, engine: Engine, tmp_path: Path) -> None:
    assert runner.invoke(main, ["init"]).exit_code == 0
    assert _count(engine) > 100
    target = tmp_path / "synonyms.yaml"
    result = runner.invoke(main, ["synonyms", "export", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == SYNONYMS_PATH.read_text(encoding="utf-8")
    printed = runner.invoke(main, ["synonyms", "export"])
    assert printed.exit_code == 0 and printed.output == target.read_text(encoding="utf-8")


def test_init_seeds_an_upgraded_library_once(runner, engine: Engine) -> None:
    assert runner.invoke(main, ["init"]).exit_code == 0
    with engine.begin() as connection:  # a library made before the synonym table existed
        connection.execute(delete(SynonymGroup))
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 0 and "组检索同义词" in result.output
    again = runner.invoke(main, ["init"])
    assert "组检索同义词" not in again.output
    assert _count(engine) > 100


def test_export_writes_finance_changes(runner, engine: Engine, session: Session) -> None:
    assert runner.invoke(main, ["init", "--no-seed"]).exit_code == 0
    assert _count(engine) == 0
    add_group(session, Actor("财政甲", "finance"), ["修房子", "房屋修缮"], category="住建")
    session.commit()
    output = runner.invoke(main, ["synonyms", "export"]).output
    assert output.endswith("  # ---- 住建 ----\n  - [修房子, 房屋修缮]\n")

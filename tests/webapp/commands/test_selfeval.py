"""``kb selfeval score`` (CONTRACT §7 JSON shape, exit 1 with located errors, writes nothing) and ``import``."""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from kb.models import SelfEvaluation
from tests.kb.selfeval.builders import EXAMPLE_ROWS, filled_bytes
from webapp.cli import main


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_score_json_has_the_contract_shape(runner, tmp_path):
    result = runner.invoke(main, ["selfeval", "score", str(write(tmp_path, "a.xlsx", filled_bytes())), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"execution", "rows", "total", "grade", "problems"} <= set(data)
    assert data["execution"] == {"rate": 95.0, "score": 9.5}
    assert set(data["rows"][0]) >= {"name", "weight", "target", "actual", "score", "problems"}
    assert [row["score"] for row in data["rows"]] == [12.0, 12.5, 10.42, 12.5, 15.0, 10.0, 9.44]
    assert (data["total"], data["grade"], data["problems"]) == (91.36, "优", [])


def test_score_prints_rows_and_total(runner, tmp_path):
    result = runner.invoke(main, ["selfeval", "score", str(write(tmp_path, "a.xlsx", filled_bytes()))])
    assert result.exit_code == 0, result.output
    assert "第 12 行  证书发放时间" in result.output and "得分 10.42" in result.output
    assert "总分 91.36  等级 优" in result.output


def test_score_exits_1_with_located_errors(runner, tmp_path):
    rows = [dict(row) for row in EXAMPLE_ROWS]
    rows[6]["explanation"] = ""
    path = write(tmp_path, "b.xlsx", filled_bytes(rows=rows))
    result = runner.invoke(main, ["selfeval", "score", str(path)])
    assert result.exit_code == 1
    assert "自评表，第 16 行，字段 H 列（偏差原因分析及改进措施）" in result.output
    as_json = runner.invoke(main, ["selfeval", "score", str(path), "--json"])
    assert as_json.exit_code == 1
    data = json.loads(as_json.output)
    assert data["rows"][6]["problems"] and len(data["problems"]) == 1


def test_import_is_all_or_nothing(runner, engine, tmp_path):
    assert runner.invoke(main, ["init"]).exit_code == 0
    good = [write(tmp_path, f"{i}.xlsx", filled_bytes(project=f"项目{i}", department="101")) for i in range(3)]
    bad = write(tmp_path, "bad.xlsx", filled_bytes(project="坏", department="101", executed="很多"))
    refused = runner.invoke(main, ["selfeval", "import", *map(str, good), str(bad)])
    assert refused.exit_code == 1 and "bad.xlsx" in refused.output and "全部未导入" in refused.output
    assert runner.invoke(main, ["selfeval", "import", "--dry-run", *map(str, good)]).exit_code == 0
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(SelfEvaluation)) == 0
    done = runner.invoke(main, ["selfeval", "import", *map(str, good)])
    assert done.exit_code == 0, done.output
    assert "已导入自评表 3 份：优 3 份" in done.output
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(SelfEvaluation)) == 3

"""``kb lint``: the library checked against the five quality requirements (database or YAML files)."""
from __future__ import annotations

import json

from sqlalchemy import select

from kb.models import Indicator
from webapp.cli import main


def test_lint_the_seed_library_passes(runner, seeded):
    result = runner.invoke(main, ["lint", "--errors-only"])
    assert result.exit_code == 0, result.output
    assert "错误 0 条" in result.output


def test_lint_reports_problems_and_fails(runner, seeded):
    indicator = seeded.scalars(select(Indicator).where(Indicator.code == "WJ-001")).one()
    indicator.unit = "个"
    indicator.formula = ""
    seeded.commit()
    result = runner.invoke(main, ["lint", "--department", "102"])
    assert result.exit_code == 1
    assert "WJ-001（度量单位精准）" in result.output and "WJ-001（指标解释通俗易懂）" in result.output
    assert "（102）" in result.output
    data = json.loads(runner.invoke(main, ["lint", "--department", "102", "--json", "--errors-only"]).output)
    assert {item["rule"] for item in data} == {"unit_precise", "rate_formula"}


def test_lint_yaml_files(runner, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "indicators:\n  - code: T-1\n    name: 覆盖率\n    level1: 产出指标\n    level2: 数量指标\n"
        "    nature: 定量\n    operator: ≥\n    target: XX\n    unit: '%'\n    definition: 覆盖的比例。说明较长一些。\n"
        "    basis: []\n", encoding="utf-8")
    result = runner.invoke(main, ["lint", str(path)])
    assert result.exit_code == 1
    assert "T-1（指标来源清晰）" in result.output and "T-1（指标值客观准确）" in result.output

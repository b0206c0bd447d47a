"""``kb monitoring lights`` (the API's shape) and ``kb monitoring rules`` (print, or check a file)."""
from __future__ import annotations

import json

import yaml

from kb.services import monitoring
from kb.services.monitoring_rules import default_rules
from tests.kb.services.monitoring_world import FINANCE, JULY, build_world
from webapp.cli import main


def test_lights_of_a_round(runner, session, make_department):
    world = build_world(session, make_department)
    july = monitoring.open_round(session, FINANCE, name="7 月", cut_off=JULY)
    c = next(e for e in july.entries if e.project_id == world.projects["C"].id)
    monitoring.fill_entry(session, world.civil_officer, c, budget="80", executed="44",
                          indicators={i.id: {"expected": "95", "outlook": "确定能"} for i in c.indicators})
    session.commit()
    result = runner.invoke(main, ["monitoring", "lights", str(july.id), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {"project": "C 城乡低保", "department": "县民政局", "budget_light": "green", "goal_light": "green"} in rows
    assert len(rows) == 4
    text = runner.invoke(main, ["monitoring", "lights", str(july.id)]).output
    assert "C 城乡低保\t预算执行：绿灯\t目标完成：绿灯" in text
    missing = runner.invoke(main, ["monitoring", "lights", "999"])
    assert missing.exit_code == 1 and "不存在" in missing.output


def test_rules_print_and_check(runner, session, tmp_path):
    printed = runner.invoke(main, ["monitoring", "rules"])
    assert printed.exit_code == 0 and "第 0 版" in printed.output and "red_gap: 20" in printed.output
    good = tmp_path / "rules.yaml"
    good.write_text(printed.output, encoding="utf-8")
    assert runner.invoke(main, ["monitoring", "rules", str(good)]).exit_code == 0
    data = default_rules().as_dict()
    data["budget"]["yellow_gap"] = "十"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(main, ["monitoring", "rules", str(bad)])
    assert result.exit_code == 1 and "budget.yellow_gap" in result.output and "bad.yaml" in result.output

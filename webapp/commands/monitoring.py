"""``kb monitoring``: the lights of a round (as ``GET /api/v1/monitoring``) and the light rules
(print the rules in force, or check a rules file before finance adopts it)."""
from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from kb.errors import KbError, Problem, ValidationFailed
from kb.services import monitoring
from kb.services.monitoring_rules import current_rules, parse_rules, rules_yaml
from webapp.cli import Context, fail, pass_context


@click.group("monitoring")
def monitoring_group() -> None:
    """运行监控：各轮次亮灯情况与亮灯规则。"""


@monitoring_group.command("lights")
@click.argument("round_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（与 GET /api/v1/monitoring 相同）。")
@pass_context
def lights(ctx: Context, round_id: int, as_json: bool) -> None:
    """列出一轮监控中各项目的预算执行灯与目标完成灯。"""
    with ctx.session() as session:
        try:
            monitoring_round = monitoring.get_round(session, round_id)
        except KbError as error:
            fail(error)
        entries = monitoring.round_entries(session, monitoring_round)
        rows = [{"project": e.project.name, "department": e.department.name,
                 "budget_light": e.budget_light.value if e.budget_light else None,
                 "goal_light": e.goal_light.value if e.goal_light else None} for e in entries]
        lines = [f"{e.department.name}\t{e.project.name}\t预算执行：{_label(e.budget_light)}\t目标完成：{_label(e.goal_light)}"
                 for e in entries]
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2) if as_json else "\n".join(lines))


def _label(light) -> str:
    return light.label if light is not None else "未填报"


@monitoring_group.command("rules")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@pass_context
def rules(ctx: Context, path: Path | None) -> None:
    """不带参数：打印当前亮灯规则（YAML）；给出文件：检查该规则文件，有问题时以 1 退出。"""
    if path is None:
        with ctx.session() as session:
            version, current = current_rules(session)
        click.echo(f"# 第 {version} 版{'（默认）' if version == 0 else ''}")
        click.echo(rules_yaml(current), nl=False)
        return
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        fail(ValidationFailed([Problem(f"无法读取：{error}", str(path))]))
    try:
        parse_rules(data, str(path))
    except ValidationFailed as error:
        fail(error)
    click.echo(f"{path}：规则有效。")


commands = [monitoring_group]

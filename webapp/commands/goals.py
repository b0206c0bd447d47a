"""``kb lint``: the five quality requirements (来源清晰、属性准确、单位精准、解释易懂、指标值客观)
checked over the library in the database or over YAML files."""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click

from kb import quality
from kb.errors import ValidationFailed
from kb.yamlio import read_yaml_files
from webapp.cli import Context, fail, pass_context


def _yaml_indicators(paths: tuple[Path, ...]) -> list[dict]:
    files, problems = read_yaml_files(paths)
    if problems:
        fail(ValidationFailed(problems))
    indicators = []
    for file in files:
        data = file.data if isinstance(file.data, dict) else {}
        found = list(data.get("indicators") or []) + list((data.get("indicator_set") or {}).get("indicators") or [])
        indicators += [dict(item, _source=str(file.path)) for item in found if isinstance(item, dict)]
    return indicators


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--department", help="只检查该部门（部门编码；“共性”= 共性指标）。")
@click.option("--errors-only", is_flag=True, help="只列出必须改正的问题（不列提示）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（每条问题一项）。")
@pass_context
def lint(ctx: Context, paths: tuple[Path, ...], department: str | None, errors_only: bool, as_json: bool) -> None:
    """按“指标质量五要求”检查指标库（默认检查数据库；给出路径则检查 YAML 文件）；有错误时以 1 退出。"""
    if paths:
        findings = [f for data in _yaml_indicators(paths) for f in quality.check_indicator(data)]
        checked = None
    else:
        from kb.services.goal_usage import lint_database

        with ctx.session() as session:
            findings = [f for _, items in lint_database(session, department) for f in items]
        checked = department or "全库"
    if errors_only:
        findings = [f for f in findings if f.is_error]
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2))
    else:
        _print(findings, checked)
    if quality.has_errors(findings):
        sys.exit(1)


def _print(findings: list[quality.Finding], checked: str | None) -> None:
    for finding in findings:
        label = "错误" if finding.is_error else "提示"
        click.echo(f"[{label}] {finding.code}（{finding.requirement}）：{finding.message} 建议：{finding.fix}")
    errors = sum(f.is_error for f in findings)
    by_requirement = Counter(f.requirement for f in findings)
    summary = "；".join(f"{name} {count} 条" for name, count in by_requirement.items())
    scope = f"（{checked}）" if checked else ""
    click.echo(f"检查完成{scope}：错误 {errors} 条，提示 {len(findings) - errors} 条。{summary}")


commands = [lint]

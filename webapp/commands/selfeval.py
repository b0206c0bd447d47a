"""``kb selfeval score`` / ``import`` / ``template``: the 项目支出绩效自评表 from the shell (CONTRACT §7)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kb.errors import ImportFailed, KbError, ValidationFailed
from kb.selfeval.scoring import ScoreResult
from kb.services import selfeval as selfeval_service
from kb.services.audit import Actor
from kb.spreadsheets.goal_forms import workbook_bytes
from kb.spreadsheets.selfeval import selfeval_workbook
from kb.spreadsheets.selfeval_reader import read_selfeval, score_sheet
from kb.vocab import Role
from webapp.cli import Context, fail, pass_context, progress_bar

# Collecting the county's tables is the finance bureau's work; the shell acts as finance here
# (the system actor is an administrator, who never acts in the 自评 review).
IMPORT_ACTOR = Actor("命令行", Role.FINANCE)


@click.group("selfeval")
def selfeval_group() -> None:
    """项目支出绩效自评（自评表评分、批量导入、空白模版）。"""


def _print_result(sheet, result: ScoreResult) -> None:
    click.echo(f"项目：{sheet.project}（{sheet.department}，{sheet.year or '?'} 年度）")
    execution = result.execution
    if execution.score is not None:
        click.echo(f"预算执行  执行率 {execution.rate:.2f}%  得分 {execution.score:.2f}")
    for row, scored in zip(sheet.rows, result.rows):
        score = f"{scored.score:.2f}" if scored.score is not None else "—"
        weight = f"{scored.weight:.4g}" if scored.weight is not None else "—"
        click.echo(f"第 {row.number} 行  {scored.name}  分值 {weight}  {scored.target} → {scored.actual}  得分 {score}")
        for note in scored.notes:
            click.echo(f"        提示：{note.column}：{note.message}")
    if result.total is not None:
        click.echo(f"总分 {result.total:.2f}  等级 {result.grade}")


@selfeval_group.command("score")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（CONTRACT §7 的格式）。")
def score_command(file: Path, as_json: bool) -> None:
    """为一份填好的自评表评分（不写入任何数据）：逐行得分与总分；表中有错误时逐条列出位置并以 1 退出。"""
    try:
        sheet = read_selfeval(file.read_bytes(), file.name)
    except ValidationFailed as error:
        if as_json:
            click.echo(json.dumps({"execution": {"rate": None, "score": None}, "rows": [], "total": None, "grade": None,
                                   "problems": [str(p) for p in error.problems]}, ensure_ascii=False, indent=2))
            sys.exit(1)
        fail(error)
    result, problems = score_sheet(sheet)
    if as_json:
        data = result.to_dict()
        data["problems"] = [str(p) for p in problems]
        located = {i: [str(p) for p in problems if p.entry == f"第 {row.number} 行"] for i, row in enumerate(sheet.rows)}
        for index, row in enumerate(data["rows"]):
            row["problems"] = located[index]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_result(sheet, result)
    if problems:
        if not as_json:
            fail(ValidationFailed(problems))
        sys.exit(1)


@selfeval_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="只检查和评分，不写入。")
@pass_context
def import_command(ctx: Context, files: tuple[Path, ...], dry_run: bool) -> None:
    """批量导入自评表：先读取并评分全部文件，任何一份有问题则逐条列出且全部不写入；否则一次写入。"""
    try:
        with progress_bar(len(files), "读取自评表") as bar, ctx.session() as session:
            plan = selfeval_service.import_selfevaluations(
                session, IMPORT_ACTOR, ((path.name, path.read_bytes()) for path in files),
                dry_run=dry_run, progress=bar.update)
    except ImportFailed as error:
        click.echo(f"{len(files)} 个文件中发现问题，全部未导入。", err=True)
        fail(error)
    except KbError as error:
        fail(error)
    grades: dict[str, int] = {}
    for item in plan.items:
        grades[item.result.grade] = grades.get(item.result.grade, 0) + 1
    summary = "，".join(f"{grade} {count} 份" for grade, count in sorted(grades.items()))
    verb = "检查通过（未写入）" if dry_run else "已导入"
    click.echo(f"{verb}自评表 {len(plan.items)} 份：{summary}。")


@selfeval_group.command("template")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rows", default=10, show_default=True, help="空白指标行数。")
def template_command(output: Path, rows: int) -> None:
    """写出空白的项目支出绩效自评表（.xlsx）。"""
    output.write_bytes(workbook_bytes(selfeval_workbook({}, blank_rows=rows)))
    click.echo(f"已写出 {output}")


commands = [selfeval_group]

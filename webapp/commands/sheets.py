"""``kb import``, ``kb template``, ``kb export-xlsx``, ``kb export-catalogue``: the 梳理模版 from the shell."""
from __future__ import annotations

from pathlib import Path

import click

from kb.errors import ImportFailed, KbError
from kb.services.import_plan import ImportPlan
from kb.services.imports import apply_import, preview_import
from kb.spreadsheets.template import TEMPLATE_TITLE, build_workbook, workbook_bytes
from kb.spreadsheets.writer import common_workbook, department_workbook, library_workbook, safe_filename
from webapp.cli import CLI_ACTOR, Context, fail, pass_context, progress_bar

COMMON_CODES = ("共性", "common")
CATALOGUE_CSS = Path(__file__).resolve().parent.parent / "static" / "css" / "catalogue.css"


def _report_failure(error: KbError) -> None:
    if isinstance(error, ImportFailed) and error.warnings:
        click.echo(f"提示（{len(error.warnings)} 条）：", err=True)
        for warning in error.warnings:
            click.echo(f"  {warning}", err=True)
    fail(error)


def _print_plan(plan: ImportPlan, verbose: bool) -> None:
    for warning in plan.warnings:
        click.echo(f"提示：{warning}")
    for row in plan.added:
        assigned = "（编码自动分配）" if row.code_assigned else ""
        click.echo(f"新增  {row.source} 第 {row.row} 行  {row.code}{assigned} {row.name}")
    for row in plan.changed:
        click.echo(f"修改  {row.source} 第 {row.row} 行  {row.code} {row.name}")
        for change in row.changes:
            click.echo(f"        {change.label}：“{change.before}” → “{change.after}”")
    if verbose:
        for row in plan.unchanged:
            click.echo(f"不变  {row.source} 第 {row.row} 行  {row.code} {row.name}")
    if plan.untouched:
        click.echo(f"文件中没有的已有指标 {len(plan.untouched)} 项保持不变（不会删除）。")
    if plan.checklist:
        provided = sum(1 for item in plan.checklist if item.status == "已提供")
        click.echo(f"资料清单：已提供 {provided} 项，未提供 {len(plan.checklist) - provided} 项。")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--department", help="导入到该部门（部门编码）；不填则按表中“所属部门”列分别导入（整库导出的表格）。")
@click.option("--dry-run", is_flag=True, help="只检查和预览，不写入。")
@click.option("--verbose", is_flag=True, help="也列出没有变化的行。")
@pass_context
def import_command(ctx: Context, file: Path, department: str | None, dry_run: bool, verbose: bool) -> None:
    """导入填好的梳理模版（.xlsx 或 .csv）：先逐行检查，有任何问题则全部列出且不写入；否则一次性全部写入。"""
    if department in COMMON_CODES:
        department = None
    content = file.read_bytes()
    try:
        with ctx.session() as session:
            plan = preview_import(session, CLI_ACTOR, content, file.name, department, lock=not dry_run)
            _print_plan(plan, verbose)
            if dry_run:
                session.rollback()
            else:
                with progress_bar(len(plan.rows), "导入") as bar:
                    apply_import(session, CLI_ACTOR, plan, progress=bar.update)
    except KbError as error:
        _report_failure(error)
    summary = f"新增 {len(plan.added)}、修改 {len(plan.changed)}、未变 {len(plan.unchanged)}"
    if dry_run:
        click.echo(f"检查通过（未写入，--dry-run）：将{summary}。")
    else:
        click.echo(f"导入完成：{summary}。")


@click.command("template")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--department", help="带出该部门现有指标的模版（部门编码；“共性”= 共性指标）。")
@pass_context
def template(ctx: Context, out: Path, department: str | None) -> None:
    """生成梳理模版（.xlsx）。OUT 为文件夹时写入其中的《分部门绩效指标体系梳理模版.xlsx》。"""
    try:
        if department:
            with ctx.session() as session:
                content = common_workbook(session) if department in COMMON_CODES else department_workbook(session, department)
            name = f"{TEMPLATE_TITLE}（{safe_filename(department)}）.xlsx"
        else:
            content, name = workbook_bytes(build_workbook()), f"{TEMPLATE_TITLE}.xlsx"
    except KbError as error:
        fail(error)
    path = _write(out, name, content)
    click.echo(f"已生成模版：{path}")


@click.command("export-xlsx")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--department", help="只导出该部门（部门编码；“共性”= 共性指标）；不填则导出整个指标库。")
@pass_context
def export_xlsx(ctx: Context, out: Path, department: str | None) -> None:
    """把部门指标集或整个指标库导出为梳理模版格式（可修改后再导入）。"""
    try:
        with ctx.session() as session:
            if department in COMMON_CODES:
                content, name = common_workbook(session), "共性指标.xlsx"
            elif department:
                content, name = department_workbook(session, department), f"指标集_{safe_filename(department)}.xlsx"
            else:
                content, name = library_workbook(session), "指标库_全库.xlsx"
    except KbError as error:
        fail(error)
    path = _write(out, name, content)
    click.echo(f"已导出：{path}")


@click.command("export-catalogue")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--department", help="只包含该部门（部门编码）。")
@pass_context
def export_catalogue(ctx: Context, out: Path, department: str | None) -> None:
    """导出可打印的指标目录（HTML，按部门、一级和二级指标分组；用浏览器打开后打印或另存为 PDF）。"""
    from flask import render_template

    from kb.spreadsheets.writer import catalogue

    try:
        with ctx.session() as session:
            groups = catalogue(session, department)
            with ctx.app.test_request_context():
                html = render_template("sheets/catalogue.html", groups=groups, standalone=True,
                                       inline_css=CATALOGUE_CSS.read_text(encoding="utf-8"))
    except KbError as error:
        fail(error)
    path = _write(out, f"指标目录{'_' + safe_filename(department) if department else ''}.html", html.encode("utf-8"))
    click.echo(f"已导出指标目录：{path}")


def _write(out: Path, default_name: str, content: bytes) -> Path:
    path = out / default_name if out.is_dir() or str(out).endswith(("/", "\\")) else out
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_bytes(content)
    except OSError as error:
        fail(KbError(f"无法写入 {path}（{error.strerror}），请检查路径和权限。"))
    return path


commands = [import_command, template, export_xlsx, export_catalogue]

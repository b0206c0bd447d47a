"""Operations commands: ``kb db upgrade``, ``kb backup``, ``kb restore``, ``kb check-deploy``."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import func, select

from kb.backup import BackupError, archive_audit_log, backup_database, prune_backups, read_manifest, resolve_backup_set, restore_database
from kb.indexing import rebuild_index
from kb.migrations import current_revision, head_revision, upgrade_database
from kb.models import Indicator
from kb.services.audit import record_change, verify_chain
from kb.services.library import export_library
from kb.services.users import hash_password, verify_password
from webapp.cli import CLI_ACTOR, Context, pass_context, progress_bar
from webapp.commands.deploy_checks import UNSAFE, Deployment, run_checks


@click.group("db")
def db() -> None:
    """数据库结构（迁移）。"""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="目标版本。")
@pass_context
def db_upgrade(ctx: Context, revision: str) -> None:
    """把数据库结构升级到本程序的版本（升级前请先 kb backup）。"""
    before, after = upgrade_database(ctx.state.engine, revision)
    if before == after:
        click.echo(f"数据库结构已是最新（版本 {after}）。")
    else:
        click.echo(f"数据库结构已从 {before or '空库'} 升级到 {after}。")


@db.command("current")
@pass_context
def db_current(ctx: Context) -> None:
    """显示数据库结构版本；落后于本程序时以 1 退出。"""
    current, head = current_revision(ctx.state.engine), head_revision()
    click.echo(f"数据库 {current or '未标记'}，程序 {head}")
    if current != head:
        click.echo("请先备份，再运行 kb db upgrade。", err=True)
        sys.exit(1)


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--keep", default=0, type=int, help="只保留最新的 N 份备份（0：全部保留）。")
@pass_context
def backup(ctx: Context, directory: Path, keep: int) -> None:
    """在线备份：数据库副本（SQLite 备份接口或 pg_dump）、YAML 导出和校验清单，写入 DIRECTORY 下的新目录。"""
    engine = ctx.state.engine
    with ctx.session() as session:
        try:
            report = backup_database(
                engine,
                directory,
                export_yaml=lambda path: export_library(session, path),
                revision=current_revision(engine),
            )
        except BackupError as error:
            click.echo(f"错误：{error}", err=True)
            sys.exit(1)
    with ctx.session() as session:
        record_change(session, CLI_ACTOR, "backup", "database", report.path.name,
                      after={"rows": report.rows, "files": len(report.files)}, summary=f"备份到 {report.path}")
    pruned = prune_backups(directory, keep) if keep else []
    click.echo(f"备份完成：{report.path}（{len(report.tables)} 张表，{report.rows} 行，{len(report.files)} 个文件）。")
    if pruned:
        click.echo(f"已删除 {len(pruned)} 份旧备份。")


@click.command("restore")
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再确认（脚本中使用）。")
@pass_context
def restore(ctx: Context, backup_dir: Path, yes: bool) -> None:
    """用备份替换当前数据库（先停止网页服务），核对内容，升级结构并重建检索索引。

    BACKUP_DIR 是一份备份（kb-YYYYMMDDTHHMMSSZ 目录），或 kb backup 写入的目录：取其中最新的一份。
    """
    try:
        backup_dir, chosen = resolve_backup_set(backup_dir)
        if chosen:
            click.echo(f"使用 {backup_dir.parent} 中最新的备份：{backup_dir}")
        manifest = read_manifest(backup_dir)
    except BackupError as error:
        click.echo(f"错误：{error}", err=True)
        sys.exit(1)
    rows = sum(table["rows"] for table in manifest["tables"].values())
    if not yes:
        click.confirm(f"将用 {manifest['created_at']} 的备份（{rows} 行）替换当前数据库，当前数据会被覆盖。继续吗？", abort=True)
    engine = ctx.state.engine
    try:
        restore_database(engine, backup_dir, stage=lambda step: click.echo(f"{step}……"))
    except BackupError as error:
        click.echo(f"错误：{error}", err=True)
        sys.exit(1)
    click.echo(f"已恢复并核对 {len(manifest['tables'])} 张表、{rows} 行，内容与备份一致。")
    before, after = upgrade_database(engine)
    if before != after:
        click.echo(f"数据库结构已从 {before} 升级到 {after}。")
    with ctx.session() as session:
        record_change(session, CLI_ACTOR, "restore", "database", backup_dir.name, summary=f"从 {backup_dir} 恢复")
    with ctx.session() as session:
        total = session.scalar(select(func.count()).select_from(Indicator))
        with progress_bar(total, "重建检索索引") as bar:
            count = rebuild_index(session, ctx.state.search, progress=bar.update)
    click.echo(f"检索索引已重建（{count} 项）。")


@click.command("check-deploy")
@click.option("--no-tls", is_flag=True, help="本机试用、不经 HTTPS 反向代理时使用（仅提示，不判为不安全）。")
@pass_context
def check_deploy(ctx: Context, no_tls: bool) -> None:
    """检查部署设置（调试模式、密钥、Cookie、口令策略、审计留存、数据库位置等）；有不安全项时以 1 退出。"""
    deployment = Deployment(
        config=dict(ctx.app.config),
        engine=ctx.state.engine,
        behind_tls=not no_tls,
        hash_sample=lambda: hash_password("Check-deploy#1"),
        verify_password=verify_password,
    )
    findings = run_checks(deployment)
    for finding in findings:
        click.echo(str(finding))
    unsafe = sum(finding.level == UNSAFE for finding in findings)
    if unsafe:
        click.echo(f"发现 {unsafe} 项不安全设置，请按提示修改后再上线。", err=True)
        sys.exit(1)
    click.echo("部署检查通过。" if not findings else f"部署检查通过（{len(findings)} 条建议）。")


@click.group("audit")
def audit() -> None:
    """审计日志维护。"""


@audit.command("archive")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_context
def audit_archive(ctx: Context, directory: Path) -> None:
    """把超过留存期（AUDIT_RETENTION_DAYS，至少 184 天）的审计记录归档到 DIRECTORY 并从数据库移除。"""
    days = int(ctx.app.config["AUDIT_RETENTION_DAYS"])
    with ctx.state.engine.begin() as connection:
        moved, path = archive_audit_log(connection, directory, days)
    with ctx.session() as session:
        record_change(session, CLI_ACTOR, "audit-archive", "audit_log", str(path.name if path else "-"),
                      after={"rows": moved}, summary=f"归档 {moved} 条超过 {days} 天的审计记录")
    if moved:
        click.echo(f"已归档 {moved} 条审计记录到 {path}（校验值见同名 .sha256 文件），请把该文件与备份一同异地保存。")
    else:
        click.echo(f"没有超过 {max(days, 184)} 天的审计记录。")


@audit.command("verify")
@pass_context
def audit_verify(ctx: Context) -> None:
    """校验审计日志的哈希链：发现被修改、删除或插入的记录时逐条列出并以状态 1 退出。"""
    with ctx.session() as session:
        report = verify_chain(session)
    for _, message in report.problems:
        click.echo(message, err=True)
    note = f"（另有 {report.unchained} 条为启用哈希链之前的记录，未纳入校验）" if report.unchained else ""
    if not report.ok:
        click.echo(f"审计日志校验未通过：{len(report.problems)} 处问题，已校验 {report.checked} 条{note}。", err=True)
        sys.exit(1)
    click.echo(f"审计日志校验通过：{report.checked} 条记录的哈希链完整{note}。")


commands = [db, backup, restore, check_deploy, audit]

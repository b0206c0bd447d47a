"""``kb querylog prune``: the query log's retention (KB_QUERY_LOG_DAYS), for cron or by hand."""
from __future__ import annotations

import click

from kb.services import query_log
from webapp.cli import Context, pass_context


@click.group("querylog")
def querylog() -> None:
    """检索日志（检索分析页的数据）。"""


@querylog.command("prune")
@click.option("--days", type=click.IntRange(min=0), default=None,
              help="保留天数（默认取配置 KB_QUERY_LOG_DAYS，0 表示全部保留）。")
@pass_context
def prune(ctx: Context, days: int | None) -> None:
    """删除超过保留期的检索日志（网站每天也会自动清理一次）。"""
    days = ctx.app.config["KB_QUERY_LOG_DAYS"] if days is None else days
    with ctx.session() as session:
        removed = query_log.prune(session, days)
    if days <= 0:
        click.echo("保留天数为 0：检索日志全部保留，未删除任何记录。")
    else:
        click.echo(f"已删除 {removed} 条超过 {days} 天的检索日志。")


commands = [querylog]

"""The ``kb`` command (CONTRACT §3): thin adapters over the kb services.

Each command commits once; any problem prints one Chinese line per problem and exits non-zero.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from kb import SEED_DIR
from kb.db import create_schema, transaction
from kb.errors import KbError, ValidationFailed
from kb.indexing import check_index, rebuild_index
from kb.models import Department, Indicator
from kb.services.audit import Actor
from kb.services.library import export_library, load_library, parse_library
from kb.services.synonyms import seed_synonyms
from kb.services.users import add_user
from kb.vocab import Role


class Context:
    """The app built lazily, so ``kb --help`` needs no database."""

    def __init__(self) -> None:
        self._app = None

    @property
    def app(self):
        if self._app is None:
            from webapp import create_app

            self._app = create_app()
        return self._app

    @property
    def state(self):
        return self.app.extensions["kb"]

    def close(self) -> None:
        if self._app is not None:
            self.state.close()  # index updates of this command's commits land first

    @contextmanager
    def session(self) -> Iterator[Session]:
        with transaction(self.state.sessions) as session:
            yield session


pass_context = click.make_pass_decorator(Context, ensure=True)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CLI_ACTOR = Actor.system("命令行")


def fail(error: KbError) -> None:
    """Print a domain error (one line per problem) and exit 1."""
    if isinstance(error, ValidationFailed):
        click.echo(f"发现 {len(error.problems)} 处问题，未写入任何数据：", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
    else:
        click.echo(f"错误：{error}", err=True)
    sys.exit(1)


def progress_bar(total: int, description: str):
    """A progress bar on stderr for long work (hidden when not on a terminal)."""
    return tqdm(total=total, desc=description, unit="项", file=sys.stderr, disable=None, leave=False)


@click.group()
@click.pass_context
def main(click_context: click.Context) -> None:
    """襄垣县预算绩效指标库 命令行工具。"""
    context = click_context.ensure_object(Context)
    click_context.call_on_close(context.close)


@main.command()
@click.option("--no-seed", is_flag=True, help="不导入种子数据（建立空库）。")
@pass_context
def init(ctx: Context, no_seed: bool) -> None:
    """建库：创建或升级数据表（迁移），首次运行时导入 kb/ 中的种子数据，并建立检索索引（可重复运行）。"""
    from kb.migrations import upgrade_database

    before, after = upgrade_database(ctx.state.engine)
    if before != after:
        click.echo(f"数据库结构：{before or '空库'} → {after}。")
    create_schema(ctx.state.engine)  # tables of models newer than the last revision (development only)
    with ctx.session() as session:
        empty = session.scalar(select(func.count()).select_from(Department)) == 0
        if empty and not no_seed:
            try:
                parsed = parse_library(session, [SEED_DIR / "departments", SEED_DIR / "indicators" / "common.yaml"])
            except ValidationFailed as error:
                fail(error)
            with progress_bar(parsed.indicator_count, "导入种子数据") as bar:
                report = load_library(session, CLI_ACTOR, parsed, progress=bar.update)
        # An installation upgraded from before the synonym table: its groups start as the YAML file's.
        synonyms_added = 0 if no_seed else seed_synonyms(session, CLI_ACTOR)
    if empty and not no_seed:
        click.echo(f"已导入 {report.departments_added} 个部门、{report.indicators_added} 项指标。")
    if synonyms_added:
        click.echo(f"已从 synonyms.yaml 导入 {synonyms_added} 组检索同义词。")
    elif not empty:
        click.echo("数据库已有数据，未重复导入种子。")
    _ensure_index(ctx)


def _ensure_index(ctx: Context) -> None:
    from kb.indexing import sync_outbox

    sync_outbox(ctx.state.engine, ctx.state.search, timeout=None)
    with ctx.session() as session:
        if not check_index(session, ctx.state.search):
            click.echo("检索索引与数据库一致。")
            return
        total = session.scalar(select(func.count()).select_from(Indicator))
        with progress_bar(total, "建立检索索引") as bar:
            count = rebuild_index(session, ctx.state.search, progress=bar.update)
    sync_outbox(ctx.state.engine, ctx.state.search, timeout=None)
    click.echo(f"检索索引已建立（{count} 项）。")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_context
def load(ctx: Context, paths: tuple[Path, ...]) -> None:
    """导入 YAML 文件或文件夹（按编码新增或更新）；有任何问题则逐条列出且不写入。"""
    create_schema(ctx.state.engine)
    try:
        with ctx.session() as session:
            parsed = parse_library(session, paths)
            with progress_bar(parsed.indicator_count, "导入") as bar:
                report = load_library(session, CLI_ACTOR, parsed, progress=bar.update)
    except ValidationFailed as error:
        fail(error)
    click.echo(
        f"导入完成：部门新增 {report.departments_added}、更新 {report.departments_updated}；"
        f"指标新增 {report.indicators_added}、更新 {report.indicators_updated}、未变 {report.indicators_unchanged}。"
    )


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_context
def export(ctx: Context, directory: Path) -> None:
    """把整个指标库导出为 YAML（与 kb/ 相同的目录结构）。"""
    with ctx.session() as session:
        count = export_library(session, directory)
    click.echo(f"已导出 {count} 个文件到 {directory}。")


@main.command()
@click.argument("query")
@click.option("--department", help="只检索该部门（部门编码）。")
@click.option("--limit", default=10, show_default=True, help="最多显示条数。")
@click.option("--json", "as_json", is_flag=True, help="输出与 HTTP API 相同的 JSON。")
@pass_context
def search(ctx: Context, query: str, department: str | None, limit: int, as_json: bool) -> None:
    """在命令行检索指标。"""
    from kb.searching import search_indicators

    with ctx.session() as session:
        result = search_indicators(session, ctx.state.search, query, filters={"department": department}, limit=limit)
    if as_json:
        click.echo(json.dumps({"total": result["total"], "hits": result["hits"]}, ensure_ascii=False, indent=2))
        return
    click.echo(f"共 {result['total']} 条结果：")
    for hit in result["hits"]:
        owner = hit["department"]["name"] if hit["department"] else "共性指标"
        click.echo(f"{hit['code']:<10} {hit['name']}（{owner}｜{hit['level1']}/{hit['level2']}）")
    if not result["hits"] and result.get("suggestion"):
        click.echo(f"您是不是要找：{result['suggestion']}")


@main.group()
def users() -> None:
    """账号管理。"""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="角色。")
@click.option("--department", help="部门用户所属部门的编码。")
@click.option("--display-name", default="", help="显示名称（默认同用户名）。")
@pass_context
def users_add(ctx: Context, name: str, role: str, department: str | None, display_name: str) -> None:
    """新建账号；密码取自环境变量 KB_PASSWORD，未设置时提示输入。"""
    password = os.environ.get("KB_PASSWORD") or click.prompt("密码", hide_input=True, confirmation_prompt=True)
    try:
        with ctx.session() as session:
            add_user(session, CLI_ACTOR, name, password, role, department, display_name)
    except ValidationFailed as error:
        fail(error)
    click.echo(f"已创建账号 {name}（{Role(role).label}）。")


@users.command("disable-inactive")
@click.option("--days", type=int, default=None, help="未登录超过多少天即停用（默认取 ACCOUNT_INACTIVE_DAYS，90）。")
@pass_context
def users_disable_inactive(ctx: Context, days: int | None) -> None:
    """停用长期未登录的账号（等保：及时停用多余、过期账户）；可由定时任务每天运行。"""
    from kb.services.accounts import disable_inactive_accounts

    days = ctx.app.config["ACCOUNT_INACTIVE_DAYS"] if days is None else days
    if days <= 0:
        click.echo("未启用长期未登录停用（ACCOUNT_INACTIVE_DAYS=0），没有停用任何账号。")
        return
    with ctx.session() as session:
        disabled = disable_inactive_accounts(session, CLI_ACTOR, days)
    if disabled:
        click.echo(f"已停用 {len(disabled)} 个超过 {days} 天未登录的账号：{'、'.join(disabled)}。")
    else:
        click.echo(f"没有超过 {days} 天未登录的账号。")


@main.group()
def index() -> None:
    """检索索引维护。"""


@index.command("rebuild")
@pass_context
def index_rebuild(ctx: Context) -> None:
    """从数据库重建检索索引（新建后原子替换）。"""
    try:
        with ctx.session() as session:
            total = session.scalar(select(func.count()).select_from(Indicator))
            with progress_bar(total, "重建检索索引") as bar:
                count = rebuild_index(session, ctx.state.search, progress=bar.update)
        from kb.indexing import sync_outbox

        sync_outbox(ctx.state.engine, ctx.state.search, timeout=None)  # edits committed during the rebuild
    except OSError as error:  # e.g. disk full: the new index is abandoned, the live one is untouched
        click.echo(f"错误：写入检索索引失败（{error.strerror or error}）：{ctx.app.config['SEARCH_INDEX_DIR']}。"
                   "原有索引未改动，检索仍可使用；请释放磁盘空间或检查目录权限后重新运行 kb index rebuild。", err=True)
        sys.exit(1)
    click.echo(f"检索索引已重建（{count} 项）。")


@index.command("check")
@pass_context
def index_check(ctx: Context) -> None:
    """核对索引与数据库，不一致时列出差异并以 1 退出。"""
    with ctx.session() as session:
        problems = check_index(session, ctx.state.search)
    if problems:
        for line in problems:
            click.echo(line, err=True)
        click.echo(f"共 {len(problems)} 处不一致，请运行 kb index rebuild。", err=True)
        sys.exit(1)
    click.echo("检索索引与数据库一致。")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="工作进程数（gunicorn）。")
@click.option("--threads", default=4, show_default=True, type=int, help="每个进程的线程数。")
@click.option("--server", "server_name", type=click.Choice(["auto", "gunicorn", "waitress"]), default="auto",
              show_default=True, help="auto：Linux 用 gunicorn，Windows 用 waitress。")
@click.option("--forwarded-allow-ips", default=None,
              help="可信反向代理的地址或网段（逗号分隔）；只信任它们发来的 X-Forwarded-For。默认取 FORWARDED_ALLOW_IPS（127.0.0.1）。")
@click.option("--allow-unsafe", is_flag=True,
              help="仅限测试机：即使 kb check-deploy 报告不安全设置也启动（也可设 KB_ALLOW_UNSAFE=true）。")
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int, threads: int, server_name: str,
          forwarded_allow_ips: str | None, allow_unsafe: bool) -> None:
    """用生产级 WSGI 服务器提供网页服务（Linux：gunicorn 多进程；Windows：waitress）。

    启动前执行与 kb check-deploy 相同的检查，有不安全设置时拒绝启动（--allow-unsafe 除外）。
    """
    from webapp.commands.deploy_checks import deployment_of, unsafe_findings
    from webapp.security import trust_proxies

    # Bound to this computer only, the app is reached through a local proxy or tried out locally:
    # HTTPS is then the proxy's business (check-deploy still reports a missing secure cookie).
    behind_tls = host not in LOOPBACK_HOSTS
    unsafe = unsafe_findings(deployment_of(ctx.app, behind_tls=behind_tls))
    if unsafe:
        for finding in unsafe:
            click.echo(str(finding), err=True)
        if not (allow_unsafe or ctx.app.config["KB_ALLOW_UNSAFE"]):
            click.echo(f"拒绝启动：发现 {len(unsafe)} 项不安全设置（见上，与 kb check-deploy 相同）。请按提示修改；"
                       "仅在测试机上可加 --allow-unsafe 或设置 KB_ALLOW_UNSAFE=true 强制启动。", err=True)
            sys.exit(1)
        click.echo(f"警告：带着 {len(unsafe)} 项不安全设置启动（--allow-unsafe），只可用于测试机。", err=True)

    if forwarded_allow_ips is None:
        forwarded_allow_ips = ctx.app.config["FORWARDED_ALLOW_IPS"]
    trust_proxies(ctx.app, forwarded_allow_ips)
    if server_name == "auto":
        server_name = "waitress" if sys.platform == "win32" else "gunicorn"
    from webapp import repair_search_index

    # Once, before any worker starts (create_app itself does no index work).
    if repair_search_index(ctx.app) == "rebuilt":
        click.echo("检索索引缺失、损坏或与数据库不一致，已重建。")
    click.echo(f"指标库已启动：http://{host}:{port}/ （{server_name}，Ctrl-C 停止）")
    if server_name == "waitress":
        from waitress import serve as waitress_serve

        # One process; waitress threads share the engine. The app itself believes X-Forwarded-* only
        # from the trusted proxies (webapp.security.TrustedProxies), as under gunicorn.
        waitress_serve(ctx.app, host=host, port=port, threads=max(threads, 4) * max(workers, 1))
        return
    from gunicorn.app.base import BaseApplication

    ctx.close()  # each worker builds its own app: no connection or index reader crosses the fork

    class Server(BaseApplication):
        def load_config(self) -> None:
            # Every worker builds its own app (engine, index reader): nothing is shared across fork.
            settings = {
                "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
                "timeout": 120, "graceful_timeout": 30, "accesslog": "-",
                "forwarded_allow_ips": forwarded_allow_ips, "limit_request_line": 8190,
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            from webapp import create_app

            return create_app({"FORWARDED_ALLOW_IPS": forwarded_allow_ips})

    Server().run()


from webapp.commands import register as _register_feature_commands  # noqa: E402 - after the group exists

_register_feature_commands(main)

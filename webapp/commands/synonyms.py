"""``kb synonyms export [PATH]``: the search synonym groups finance maintains, in the form of
``kb/indicators/synonyms.yaml`` (the seed and the exported form)."""
from __future__ import annotations

from pathlib import Path

import click

from kb.services.synonyms import export_synonyms
from webapp.cli import Context, pass_context


@click.group("synonyms")
def synonyms_group() -> None:
    """检索同义词（财政在网页“同义词”中维护）。"""


@synonyms_group.command("export")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def export(ctx: Context, path: Path | None) -> None:
    """导出启用的同义词组（kb/indicators/synonyms.yaml 格式）；不给 PATH 时打印到屏幕。"""
    with ctx.session() as session:
        text = export_synonyms(session)
    if path is None:
        click.echo(text, nl=False)
        return
    path.write_text(text, encoding="utf-8")
    click.echo(f"已导出 {sum(1 for line in text.splitlines() if line.startswith('  - '))} 组同义词到 {path}。", err=True)


commands = [synonyms_group]

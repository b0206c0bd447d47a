"""Further ``kb`` sub-commands, one module per feature (import, lint, backup…).

Each module listed in ``MODULES`` exposes ``commands``: a list of click commands or groups that
:func:`register` adds to the ``kb`` group. Add a feature by adding its module name here.
"""
from __future__ import annotations

import importlib

import click

MODULES: tuple[str, ...] = ("ops", "goals", "sheets", "monitoring", "selfeval", "querylog", "synonyms")


def register(group: click.Group) -> None:
    for name in MODULES:
        module = importlib.import_module(f"webapp.commands.{name}")
        for command in module.commands:
            group.add_command(command)
    use_chinese_help(group)


class ChineseHelpFormatter(click.HelpFormatter):
    """``kb --help`` in Chinese: click's own words (Usage, Options, Show this message…) translated."""

    SECTIONS = {"Options": "选项", "Commands": "命令", "Arguments": "参数"}
    WORDS = (("Show this message and exit.", "显示本帮助并退出。"), ("[default: ", "[默认："),
             ("[required]", "[必填]"), ("default: ", "默认："))

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        args = args.replace("[OPTIONS]", "[选项]").replace("COMMAND [ARGS]...", "命令 [参数]...")
        super().write_usage(prog, args, prefix="用法：" if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}：\n")

    def section(self, name: str):
        return super().section(self.SECTIONS.get(name, name))

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        translated = []
        for term, text in rows:
            for english, chinese in self.WORDS:
                text = text.replace(english, chinese)
            translated.append((term, text))
        super().write_dl(translated, col_max, col_spacing)


class ChineseContext(click.Context):
    formatter_class = ChineseHelpFormatter


def use_chinese_help(command: click.Command) -> None:
    """Every command of the tree formats its help with :class:`ChineseHelpFormatter`."""
    command.context_class = ChineseContext
    for sub in getattr(command, "commands", {}).values():
        use_chinese_help(sub)

"""Further ``kb`` sub-commands, one module per feature (import, lint, backup…).

Each module listed in ``MODULES`` exposes ``commands``: a list of click commands or groups that
:func:`register` adds to the ``kb`` group. Add a feature by adding its module name here.
"""
from __future__ import annotations

import importlib

import click

MODULES: tuple[str, ...] = ("ops", "goals", "sheets", "monitoring", "selfeval")


def register(group: click.Group) -> None:
    for name in MODULES:
        module = importlib.import_module(f"webapp.commands.{name}")
        for command in module.commands:
            group.add_command(command)

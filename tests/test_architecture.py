"""The rules of STYLE.md that a machine can check, read from the source with ``ast``:

1. layering: webapp → kb → search; search imports nothing of ours, kb has no Flask, nothing imports webapp;
2. no import cycles between the modules of kb/, search/ and webapp/ (imports run at module load);
3. modules of at most ``MAX_LINES`` lines, with a short, commented allow-list of exceptions;
4. configuration read in one place (``os.environ`` only in webapp/config.py, plus the CLI's secret).

Run ``python -m pytest tests/test_architecture.py -v`` to see each rule pass or fail.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kb", "search", "webapp")
FORBIDDEN = {
    "search": {"kb", "webapp", "flask", "sqlalchemy"},
    "kb": {"webapp", "flask"},
}
MAX_LINES = 400
# Modules allowed past MAX_LINES, each with its reason. Keep it short: split by meaning instead.
# (Empty: every module is within the limit. A module being split in issue 11 goes here meanwhile,
# with the reason "being split in issue 11".)
LONG_MODULES: dict[str, str] = {}
# Import cycles allowed for now, each with its reason; remove an entry when its cycle is gone.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


# ---- reading imports ---------------------------------------------------------------------------

def imported_modules(path: Path) -> set[str]:
    """Top-level package names ``path`` imports, wherever the import statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def our_modules(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    return {
        module_name_in(root, path): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
    }


def module_name_in(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _load_time_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements run when the module is loaded: at module level (also inside if/try/with at
    module level), not in functions or classes' methods, not under ``if TYPE_CHECKING``."""
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if test not in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                pending.extend(node.body)
            pending.extend(node.orelse)
        elif isinstance(node, (ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                pending.extend(getattr(node, field, []))
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)
        elif isinstance(node, ast.ClassDef):
            pending.extend(statement for statement in node.body if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)))


def _runtime_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, also inside functions (not under ``if TYPE_CHECKING``)."""
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for statement in node.body
        for inner in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in typing_only:
            yield node


def import_graph(modules: dict[str, Path], deferred: bool = False) -> dict[str, set[str]]:
    """Module → the modules of ours it imports at load time (``deferred``: in functions too).

    ``from package import name`` points at ``package.name`` when that is a module, else at ``package``.
    Parent packages that Python initialises on the way are not edges: only what the statement names.
    A submodule importing from its own package (``from webapp.views.indicators import bp``) is not an
    edge either: that is how a package is assembled (its ``__init__`` defines the shared names, then
    imports its parts, as views/indicators/ does), and the package always runs first.
    """
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        reader = _runtime_imports if deferred else _load_time_imports
        for node in reader(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                candidate = f"{origin}.{alias.name}"
                targets.add(candidate if candidate in modules else origin)
        graph[name] = {
            target for target in targets
            if target in modules and target != name and not name.startswith(target + ".")
        }
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


# ---- the rules -----------------------------------------------------------------------------------

@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_forbidden_layers(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if imported_modules(path) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_no_import_cycles_between_our_modules() -> None:
    cycles = [cycle for cycle in import_cycles(import_graph(our_modules())) if tuple(cycle) not in KNOWN_CYCLES]
    assert cycles == [], "import cycles (load-time imports; move the shared part to a module both import):\n" + "\n".join(
        " ↔ ".join(cycle) for cycle in cycles)


def test_known_cycle_allow_list_is_current() -> None:
    """A cycle that has been removed is taken off the list, so it cannot come back unnoticed."""
    cycles = {tuple(cycle) for cycle in import_cycles(import_graph(our_modules()))}
    assert sorted(set(KNOWN_CYCLES) - cycles) == []
    assert all(reason.strip() for reason in KNOWN_CYCLES.values())


def test_imports_inside_functions_do_not_hide_a_cycle() -> None:
    """Imports inside functions are allowed (the app factory registers its blueprints after the app
    exists, as Flask's tutorial does; the CLI imports a heavy module only for the command that needs
    it), but not to dodge a cycle: counted as edges too, they must not close one."""
    cycles = [
        cycle for cycle in import_cycles(import_graph(our_modules(), deferred=True))
        if tuple(cycle) not in KNOWN_CYCLES
    ]
    assert cycles == [], "cycles through imports inside functions:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_stay_short(package: str) -> None:
    too_long = {
        name: lines
        for name, path in our_modules().items()
        if name.split(".")[0] == package
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and name not in LONG_MODULES
    }
    assert too_long == {}, f"modules over {MAX_LINES} lines: split them by meaning (STYLE.md habit 1)"


def test_long_module_allow_list_is_current() -> None:
    """An exception that is no longer needed (module split or gone) is removed from the list."""
    modules = our_modules()
    stale = sorted(
        name for name in LONG_MODULES
        if name not in modules or len(modules[name].read_text(encoding="utf-8").splitlines()) <= MAX_LINES
    )
    assert stale == []
    assert all(reason.strip() for reason in LONG_MODULES.values())


def test_only_config_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "os.environ" in path.read_text(encoding="utf-8")
    ]
    # The CLI reads KB_PASSWORD, a secret typed for one command, not configuration (CONTRACT §3).
    assert sorted(readers) == ["webapp/cli.py", "webapp/config.py"]


# ---- the checkers check ------------------------------------------------------------------------

def test_checker_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import flask\nfrom webapp.cli import main\nfrom . import sibling\n", encoding="utf-8")
    assert imported_modules(sample) == {"flask", "webapp"}


def _tree(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return our_modules(root, ("pkg",))


def test_cycle_finder_sees_a_cycle_through_relative_and_package_imports(tmp_path: Path) -> None:
    modules = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/views/__init__.py": "from .board import page\n",  # package → board
        "pkg/views/board.py": "from pkg.views import bp\n",  # part → its package: how a package is built
        "pkg/workflow.py": "from pkg import inbox\nbp = 1\n",  # a module and a sibling importing it back
        "pkg/inbox.py": "from pkg.workflow import bp\n",
        "pkg/a.py": "from . import b\n",
        "pkg/b.py": "import pkg.c\n",
        "pkg/c.py": "from pkg.a import thing\n",
        "pkg/d.py": "from pkg import a\n",  # into the cycle, not part of it
    })
    graph = import_graph(modules)
    assert graph["pkg.views"] == {"pkg.views.board"} and graph["pkg.views.board"] == set()
    assert graph["pkg.d"] == {"pkg.a"}
    assert import_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.inbox", "pkg.workflow"]]


def test_cycle_finder_ignores_imports_that_do_not_run_at_load_time(tmp_path: Path) -> None:
    modules = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pkg import a\n"
            "def later():\n    from pkg import a\n"
        ),
    })
    assert import_cycles(import_graph(modules)) == []
    assert import_cycles(import_graph(modules, deferred=True)) == [["pkg.a", "pkg.b"]]  # the function's import

"""The import directions of STYLE.md: webapp → kb → search, and nothing imports webapp."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "search": {"kb", "webapp", "flask", "sqlalchemy"},
    "kb": {"webapp", "flask"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_forbidden_layers(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if imported_modules(path) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_checker_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import flask\nfrom webapp.cli import main\nfrom . import sibling\n", encoding="utf-8")
    assert imported_modules(sample) == {"flask", "webapp"}


def test_only_config_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for package in ("kb", "search", "webapp")
        for path in (ROOT / package).rglob("*.py")
        if "os.environ" in path.read_text(encoding="utf-8")
    ]
    # The CLI reads KB_PASSWORD, a secret typed for one command, not configuration (CONTRACT §3).
    assert sorted(readers) == ["webapp/cli.py", "webapp/config.py"]

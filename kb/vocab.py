"""Controlled vocabularies: taxonomy (一级/二级), natures, operators, units, statuses, roles.

The taxonomy and units are data in ``kb/indicators/*.yaml`` so finance can adjust them; this module
loads them once and answers questions about them.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb import SEED_DIR
from kb.enums import LabelledEnum

REFERENCE_DIR = SEED_DIR / "indicators"


class Nature(LabelledEnum):
    QUANTITATIVE = "定量"
    QUALITATIVE = "定性"


class BasisKind(LabelledEnum):
    POLICY = "政策文件"
    INDUSTRY = "行业标准"
    HISTORY = "历史标准"
    PLAN = "计划标准"
    MANDATE = "三定方案"
    OTHER = "其他"


class SetStatus(LabelledEnum):
    """Indicator-set lifecycle; values are the CONTRACT tokens, labels are for people."""

    DRAFT = "draft", "部门梳理中"
    SUBMITTED = "submitted", "已报财政"
    CONFIRMED = "confirmed", "双方已确认"
    CERTIFIED = "certified", "专家已审定"
    SUPERSEDED = "superseded", "已被新版本取代"


class IndicatorState(LabelledEnum):
    ACTIVE = "active", "在用"
    RETIRED = "retired", "已停用"


class Role(LabelledEnum):
    """Who a user is. The stored values are the CONTRACT tokens (``kb users add --role``); what each
    role may do is decided in one place, :mod:`kb.permissions`."""

    DEPARTMENT = "department", "预算部门"
    FINANCE = "finance", "财政"
    EXPERT = "expert", "专家"
    ADMIN = "admin", "管理员"
    # 三员分立 (等保 8.1.5): three administrators with disjoint duties, none with business rights.
    SYSTEM_ADMIN = "sysadmin", "系统管理员"
    SECURITY_ADMIN = "secadmin", "安全管理员"
    AUDIT_ADMIN = "auditadmin", "审计管理员"


OPERATORS = ("≥", "≤", "=", ">", "<")
QUALITATIVE_OPERATOR = "定性"
# Spellings people type for the operators (ASCII pairs, full-width forms, words).
OPERATOR_ALIASES = {
    ">=": "≥", "＞＝": "≥", "≧": "≥", "大于等于": "≥", "不低于": "≥", "不少于": "≥",
    "<=": "≤", "＜＝": "≤", "≦": "≤", "小于等于": "≤", "不高于": "≤", "不超过": "≤",
    "＝": "=", "等于": "=", "＞": ">", "大于": ">", "＜": "<", "小于": "<",
}


@dataclass(frozen=True)
class Taxonomy:
    """The level1 → level2 tree of the current framework plus the spellings accepted on input."""

    levels: dict[str, tuple[str, ...]]
    legacy_mapping: dict[tuple[str, str], tuple[str, str]]
    level1_aliases: dict[str, str]
    level2_aliases: dict[str, str]

    def canonical_level1(self, name: str) -> str:
        return _resolve(name, self.level1_aliases, set(self.levels))

    def canonical_level2(self, name: str) -> str:
        known = {level2 for level2s in self.levels.values() for level2 in level2s}
        known |= {old for (_, old) in self.legacy_mapping}
        return _resolve(name, self.level2_aliases, known)

    def normalize(self, level1: str, level2: str) -> tuple[str, str]:
        """Map any accepted spelling (either framework) to the current ``(level1, level2)``.

        Unknown names are returned canonicalised but unchanged in meaning; use :meth:`is_valid`.
        """
        level1, level2 = self.canonical_level1(level1), self.canonical_level2(level2)
        return self.legacy_mapping.get((level1, level2), (level1, level2))

    def is_valid(self, level1: str, level2: str) -> bool:
        return level2 in self.levels.get(level1, ())

    def level1_names(self) -> tuple[str, ...]:
        return tuple(self.levels)


@dataclass(frozen=True)
class Unit:
    name: str
    category: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class UnitCatalog:
    units: dict[str, Unit]
    by_alias: dict[str, str]

    def canonical(self, text: str) -> str:
        """The controlled spelling of a unit (``％`` → ``%``, ``㎡`` → ``平方米``); unknown units unchanged."""
        text = _squeeze(text)
        return self.by_alias.get(text, text)

    def is_known(self, text: str) -> bool:
        return self.canonical(text) in self.units

    def category(self, text: str) -> str | None:
        unit = self.units.get(self.canonical(text))
        return unit.category if unit else None


def _resolve(name: str, aliases: dict[str, str], known: set[str]) -> str:
    """The known name for ``name``, trying it as written and with the suffix 指标, through aliases."""
    name = _squeeze(name)
    for candidate in (name, name + "指标"):
        candidate = aliases.get(candidate, candidate)
        if candidate in known:
            return candidate
    return name


def _squeeze(text: str) -> str:
    """NFKC-normalise and drop all whitespace (people type 产出 指标, 产出指标　)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def _read(path: Path) -> dict:
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


@functools.cache
def taxonomy() -> Taxonomy:
    """The taxonomy from ``kb/indicators/taxonomy.yaml`` (read once per process)."""
    data = _read(REFERENCE_DIR / "taxonomy.yaml")
    current = data["frameworks"]["current"]["levels"]
    legacy_mapping = {
        tuple(key.split("/")): tuple(value) for key, value in data.get("legacy_mapping", {}).items()
    }
    return Taxonomy(
        levels={level1: tuple(level2s) for level1, level2s in current.items()},
        legacy_mapping=legacy_mapping,
        level1_aliases=data.get("level1_aliases", {}),
        level2_aliases=data.get("level2_aliases", {}),
    )


@functools.cache
def units() -> UnitCatalog:
    """The unit catalogue from ``kb/indicators/units.yaml`` (read once per process)."""
    data = _read(REFERENCE_DIR / "units.yaml")["units"]
    catalog: dict[str, Unit] = {}
    by_alias: dict[str, str] = {}
    for name, spec in data.items():
        spec = spec or {}
        unit = Unit(name=name, category=spec.get("category", "其他"), aliases=tuple(spec.get("aliases", ())))
        catalog[name] = unit
        for alias in unit.aliases:
            by_alias[_squeeze(str(alias))] = name
    return UnitCatalog(units=catalog, by_alias=by_alias)


def canonical_operator(text: str) -> str:
    """``>=``/``＞＝``/``不低于`` → ``≥`` and so on; unknown spellings are returned squeezed."""
    text = _squeeze(text)
    return OPERATOR_ALIASES.get(text, text)

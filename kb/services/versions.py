"""Versions of a department's indicator set (相对固定，动态调整): what a version holds and how two
versions differ, indicator by indicator and field by field."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.errors import InvalidTransition
from kb.models import Department, Indicator, IndicatorSet
from kb.services.library import indicator_to_dict
from kb.vocab import IndicatorState


def live_content(session: Session, department: Department) -> list[dict[str, Any]]:
    """The department's active indicators in their YAML form, in set order."""
    indicators = session.scalars(
        select(Indicator)
        .where(Indicator.department_id == department.id, Indicator.state == IndicatorState.ACTIVE)
        .options(selectinload(Indicator.basis))
        .order_by(Indicator.position, Indicator.code)
    ).all()
    return [indicator_to_dict(indicator) for indicator in indicators]


def set_content(session: Session, indicator_set: IndicatorSet) -> list[dict[str, Any]]:
    """What a version holds: its frozen indicators once certified, else the live ones."""
    if indicator_set.frozen_indicators is not None:
        return list(indicator_set.frozen_indicators)
    if not indicator_set.is_current:
        # An old version that was never frozen (loaded from YAML before this workflow existed).
        return []
    return live_content(session, indicator_set.department)


FIELD_LABELS = {
    "name": "指标名称", "level1": "一级指标", "level2": "二级指标", "nature": "指标性质", "operator": "运算符",
    "target": "指标值", "unit": "计量单位", "definition": "指标解释", "formula": "计算公式", "basis": "指标来源",
    "data_source": "数据来源", "projects": "适用项目", "keywords": "关键词", "state": "状态",
    "evidence": "佐证材料", "remarks": "备注",
}


@dataclass
class IndicatorChange:
    code: str
    name: str
    fields: list[tuple[str, str, Any, Any]] = field(default_factory=list)  # (key, label, old, new)


@dataclass
class VersionDiff:
    """Indicators added, removed and changed (field by field) from ``old`` to ``new``."""

    old: IndicatorSet
    new: IndicatorSet
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[IndicatorChange]
    unchanged: int

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_versions(session: Session, old: IndicatorSet, new: IndicatorSet) -> VersionDiff:
    """Compare two versions of one department's set (either order; any two versions)."""
    if old.department_id != new.department_id:
        raise InvalidTransition("只能比较同一部门的两个版本，请在同一部门的版本列表中选择。")
    before = {item["code"]: item for item in set_content(session, old)}
    after = {item["code"]: item for item in set_content(session, new)}
    changed, unchanged = [], 0
    for code, item in after.items():
        if code not in before:
            continue
        keys = [key for key in dict.fromkeys([*FIELD_LABELS, *before[code], *item]) if key != "code"]
        fields = [(key, FIELD_LABELS.get(key, key), before[code].get(key), item.get(key))
                  for key in keys if before[code].get(key) != item.get(key)]
        if fields:
            changed.append(IndicatorChange(code, item.get("name", ""), fields))
        else:
            unchanged += 1
    return VersionDiff(
        old=old, new=new,
        added=[item for code, item in after.items() if code not in before],
        removed=[item for code, item in before.items() if code not in after],
        changed=changed, unchanged=unchanged,
    )

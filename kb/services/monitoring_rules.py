"""The light rules of 运行监控 as data: defaults in ``kb/indicators/monitoring_rules.yaml``, finance's
changes saved as numbered versions (audited). A round copies the rules in force when it is opened.

Rules are plain dicts on the way in and out (YAML, the form, the JSON column) and a checked
:class:`LightRules` inside; every problem is reported with the file (or form) and the field.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import vocab
from kb.errors import PermissionDenied, Problem, ValidationFailed
from kb.models.monitoring import Light, MonitoringRuleVersion, Outlook
from kb.permissions import can_change_monitoring_rules
from kb.services.audit import Actor, record_change

RULES_PATH = vocab.REFERENCE_DIR / "monitoring_rules.yaml"
RULES_SOURCE = "monitoring_rules.yaml"
DEFAULT_VERSION = 0


@dataclass(frozen=True)
class LightRules:
    """Checked light rules; percentages and points are exact fractions so boundaries decide exactly."""

    min_amount: Fraction  # 万元
    yellow_gap: Fraction  # percentage points
    red_gap: Fraction
    green_completion: Fraction  # percent
    yellow_completion: Fraction
    qualitative: dict[Outlook, Light]
    warning_lights: frozenset[Light]

    def as_dict(self) -> dict[str, Any]:
        """The YAML / JSON form (numbers as ints where whole, so the export reads like the defaults)."""
        return {
            "scope": {"min_amount": _plain(self.min_amount)},
            "budget": {"yellow_gap": _plain(self.yellow_gap), "red_gap": _plain(self.red_gap)},
            "goal": {
                "green_completion": _plain(self.green_completion),
                "yellow_completion": _plain(self.yellow_completion),
                "qualitative": {outlook.value: self.qualitative[outlook].value for outlook in Outlook},
            },
            "warning_lights": [light.value for light in (Light.RED, Light.YELLOW) if light in self.warning_lights],
        }


def _plain(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def _number(data: Any, path: str, problems: list[Problem], source: str) -> Fraction | None:
    keys = path.split(".")
    value = data
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or value == "":
        problems.append(Problem("缺少数值或不是数字，请填写一个不小于 0 的数。", source, field=path))
        return None
    try:
        number = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        problems.append(Problem(f"“{value}”不是数字，请填写一个不小于 0 的数。", source, field=path))
        return None
    if number < 0:
        problems.append(Problem(f"不能为负数（现为 {value}）。", source, field=path))
        return None
    return number


def parse_rules(data: Any, source: str = RULES_SOURCE) -> LightRules:
    """Check a rules dict (from the YAML, the form or a saved version); :class:`ValidationFailed` lists
    every problem, each with the field to fix."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise ValidationFailed([Problem("规则文件应是一个映射（scope、budget、goal、warning_lights）。", source)])
    min_amount = _number(data, "scope.min_amount", problems, source)
    yellow_gap = _number(data, "budget.yellow_gap", problems, source)
    red_gap = _number(data, "budget.red_gap", problems, source)
    green = _number(data, "goal.green_completion", problems, source)
    yellow = _number(data, "goal.yellow_completion", problems, source)
    if yellow_gap is not None and red_gap is not None and yellow_gap > red_gap:
        problems.append(Problem(f"黄灯偏差（{_plain(yellow_gap)}）不能大于红灯偏差（{_plain(red_gap)}）。",
                                source, field="budget.red_gap"))
    if green is not None and yellow is not None and yellow > green:
        problems.append(Problem(f"黄灯完成度（{_plain(yellow)}%）不能高于绿灯完成度（{_plain(green)}%）。",
                                source, field="goal.yellow_completion"))
    qualitative_data = (data.get("goal") or {}).get("qualitative") if isinstance(data.get("goal"), dict) else None
    qualitative: dict[Outlook, Light] = {}
    for outlook in Outlook:
        value = qualitative_data.get(outlook.value) if isinstance(qualitative_data, dict) else None
        if value not in Light.labels():
            problems.append(Problem(f"请为“{outlook.value}”指定灯色（green、yellow 或 red），现为“{value or '空'}”。",
                                    source, field=f"goal.qualitative.{outlook.value}"))
        else:
            qualitative[outlook] = Light(value)
    warning = data.get("warning_lights")
    if (not isinstance(warning, list) or not warning
            or any(value not in (Light.RED.value, Light.YELLOW.value) for value in warning)):
        problems.append(Problem("预警灯色应是 red、yellow 中的一个或两个，例如 [red, yellow]。", source,
                                field="warning_lights"))
        warning = []
    if problems:
        raise ValidationFailed(problems)
    return LightRules(min_amount, yellow_gap, red_gap, green, yellow, qualitative,
                      frozenset(Light(value) for value in warning))


@functools.lru_cache(maxsize=1)
def _default_data() -> dict[str, Any]:
    with RULES_PATH.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def default_rules() -> LightRules:
    """The rules shipped in ``monitoring_rules.yaml``."""
    return parse_rules(_default_data())


def current_rules(session: Session) -> tuple[int, LightRules]:
    """``(version, rules)`` in force: finance's latest saved version, or the defaults (version 0)."""
    latest = session.scalar(select(MonitoringRuleVersion).order_by(MonitoringRuleVersion.id.desc()).limit(1))
    if latest is None:
        return DEFAULT_VERSION, default_rules()
    return latest.id, parse_rules(latest.rules, f"亮灯规则第 {latest.id} 版")


def save_rules(session: Session, actor: Actor, data: dict[str, Any], note: str = "") -> MonitoringRuleVersion:
    """Finance saves a new version of the rules (used by rounds opened from now on); audited."""
    if not can_change_monitoring_rules(actor):
        raise PermissionDenied("只有财政部门可以修改运行监控的亮灯规则。")
    rules = parse_rules(data, "亮灯规则")
    before_version, before = current_rules(session)
    version = MonitoringRuleVersion(rules=rules.as_dict(), note=note.strip()[:500], created_by=actor.username)
    session.add(version)
    session.flush()
    record_change(session, actor, "monitoring.rules", "monitoring_rules", str(version.id),
                  before={"version": before_version, **before.as_dict()},
                  after={"version": version.id, **rules.as_dict()},
                  summary=f"修改运行监控亮灯规则（第 {version.id} 版）{('：' + note.strip()) if note.strip() else ''}")
    return version


def rules_yaml(rules: LightRules) -> str:
    """The rules in the YAML form of ``monitoring_rules.yaml`` (without its comments)."""
    return yaml.safe_dump(rules.as_dict(), allow_unicode=True, sort_keys=False)

"""Goal checks against observed values (values flowing back, issue 13): a target below last year's
actual of the same project, far outside the observed 取值范围, or 100 % where actuals never reached it.

Rules, thresholds and texts live with the other goal checks in ``kb/indicators/quality_rules.yaml``;
findings have the same form (:class:`kb.quality.Finding`). ``history`` is plain data per indicator
code (``kb.services.indicator_values.History.as_check``), so this stays pure.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kb import quality, vocab


def _text(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{round(value, 4):g}"
    return "" if value is None else str(value)


def check_history(draft: Mapping[str, Any], history: Mapping[str, Mapping[str, Any]],
                  rules: Mapping[str, Any] | None = None) -> list[quality.Finding]:
    """Warnings for the goal's rows whose target ignores what was actually achieved."""
    spec = (rules or quality.load_rules())["rules"]
    findings = []
    for number, row in enumerate(draft.get("rows") or [], start=1):
        seen = history.get(row.get("code") or "")
        value = quality.parse_number(row.get("target"))
        if not seen or value is None or row.get("nature") == vocab.Nature.QUALITATIVE:
            continue
        operator, unit = row.get("operator") or "≥", vocab.units().canonical(row.get("unit") or "")
        values = {**row, **{k: _text(v) for k, v in seen.items()}, "target": _text(value), "unit": unit,
                  "operator": operator}

        def found(rule_id: str) -> quality.Finding:
            return quality.make_finding(rule_id, spec[rule_id], values, row=number, field="target",
                                        code=row.get("code") or "")

        last = seen.get("last_actual")
        if last is not None and ((operator in ("≥", ">") and value < last) or (operator in ("≤", "<") and value > last)):
            findings.append(found("below_last_actual"))
        outside = spec["outside_observed_range"]
        low, high, count = seen.get("low"), seen.get("high"), seen.get("count") or 0
        if low is not None and count >= outside["minimum_observations"]:
            spread = max(high - low, abs(high) * outside["minimum_spread_ratio"])
            if value > high + outside["fence"] * spread or value < low - outside["fence"] * spread:
                findings.append(found("outside_observed_range"))
        never = spec["never_reached_100"]
        if (value == 100 and unit == "%" and operator in ("≥", "=") and count >= never["minimum_observations"]
                and not seen.get("ever_reached_100")):
            values["high"] = _text(seen.get("maximum"))
            findings.append(found("never_reached_100"))
    return findings

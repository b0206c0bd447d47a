"""The arithmetic of the lights (monitoring-and-self-evaluation.md §1), pure and exact.

Amounts and values arrive as floats or text; they are turned into :class:`~fractions.Fraction` via
their decimal text, so 58.33 % against a 10-point boundary is decided exactly, never by a float's
last bit. Nothing here touches the database.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from kb.models.monitoring import Light, Outlook
from kb.services.monitoring_rules import LightRules
from kb.vocab import QUALITATIVE_OPERATOR

HUNDRED = Fraction(100)
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def exact(value: float | int | str | Decimal | Fraction) -> Fraction:
    """A number as an exact fraction of its decimal text (``0.1`` is 1/10, not the float's binary value)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    return Fraction(Decimal(str(value)))


def parse_value(text: str | float | int | None) -> Fraction | None:
    """The number in a typed value (``420``, ``420人``, ``95%``, ``1,200``), or ``None`` when there is none."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return exact(text)
    cleaned = str(text).replace(",", "").replace("，", "").replace("％", "%").strip()
    match = _NUMBER.search(cleaned)
    if match is None:
        return None
    try:
        return exact(match.group())
    except (InvalidOperation, ValueError):
        return None


def months_completed(cut_off: dt.date) -> int:
    """Months completed at the cut-off: its month when it is the month's last day, else the month before."""
    last_day = calendar.monthrange(cut_off.year, cut_off.month)[1]
    return cut_off.month if cut_off.day == last_day else cut_off.month - 1


def time_progress(cut_off: dt.date) -> Fraction:
    """Share of the year elapsed (31 July → 7/12)."""
    return Fraction(months_completed(cut_off), 12)


@dataclass(frozen=True)
class BudgetResult:
    rate: Fraction  # executed ÷ budget
    gap: Fraction  # time progress − rate, in percentage points
    light: Light


def budget_light(budget: float | Fraction, executed: float | Fraction, cut_off: dt.date,
                 rules: LightRules) -> BudgetResult:
    """预算执行灯: the gap between time progress and execution rate, against the rules' two boundaries.

    A budget of 0 has nothing to execute: its rate counts as 100 %.
    """
    budget, executed = exact(budget), exact(executed)
    rate = executed / budget if budget > 0 else Fraction(1)
    gap = (time_progress(cut_off) - rate) * HUNDRED
    if gap <= rules.yellow_gap:
        light = Light.GREEN
    elif gap <= rules.red_gap:
        light = Light.YELLOW
    else:
        light = Light.RED
    return BudgetResult(rate, gap, light)


def completion(operator: str, target: Fraction, expected: Fraction) -> Fraction:
    """Expected completion of a 定量 indicator (1 = 100 %) by its operator (≥ > ≤ < =)."""
    if operator in ("≥", ">"):
        if target == 0:
            return Fraction(1) if expected >= 0 else Fraction(0)
        return expected / target
    if operator in ("≤", "<"):
        if expected == 0:  # nothing happened against an upper limit: fully met
            return Fraction(1)
        if target == 0:  # an upper limit of 0 that is exceeded
            return Fraction(0)
        return target / expected
    if target == 0:
        return Fraction(1) if expected == 0 else Fraction(0)
    return 1 - abs(expected - target) / abs(target)


def completion_light(value: Fraction, rules: LightRules) -> Light:
    """Green from ``green_completion`` %, yellow from ``yellow_completion`` %, red below."""
    percent = value * HUNDRED
    if percent >= rules.green_completion:
        return Light.GREEN
    if percent >= rules.yellow_completion:
        return Light.YELLOW
    return Light.RED


@dataclass(frozen=True)
class IndicatorResult:
    completion: Fraction | None
    light: Light | None  # None: not filled in yet


def indicator_light(nature: str, operator: str, target: str, expected: str | None, outlook: Outlook | str | None,
                    rules: LightRules) -> IndicatorResult:
    """目标完成灯 of one indicator: from the expected full-year value (定量) or the stated outlook (定性)."""
    if nature == "定性" or operator == QUALITATIVE_OPERATOR:
        if not outlook:
            return IndicatorResult(None, None)
        return IndicatorResult(None, rules.qualitative[Outlook(outlook)])
    target_value, expected_value = parse_value(target), parse_value(expected)
    if expected_value is None or target_value is None:
        # A 定量 row whose target has no number is judged by the outlook when one is given.
        if outlook and target_value is None:
            return IndicatorResult(None, rules.qualitative[Outlook(outlook)])
        return IndicatorResult(None, None)
    value = completion(operator, target_value, expected_value)
    return IndicatorResult(value, completion_light(value, rules))


def worst(lights: Iterable[Light | None]) -> Light | None:
    """The worst light (a project's goal light is its worst indicator's); ``None`` when none is lit."""
    lit = [light for light in lights if light is not None]
    return max(lit, key=lambda light: light.severity) if lit else None


def percent_text(value: Fraction | float | None, digits: int = 2) -> str:
    """``0.3`` → ``30.00 %`` (for pages and the export)."""
    if value is None:
        return ""
    return f"{float(exact(value) * HUNDRED):.{digits}f} %"

"""Cell values: what people type (``≥95%``, ``１２,０００人``, ``0.95`` formatted as a percentage) into
the parts of the YAML form, and text made safe for spreadsheets on export.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from kb import vocab
from kb.characters import scrub

# Longest spellings first so ``>=`` is not read as ``>`` followed by ``=``.
_OPERATOR_SPELLINGS = sorted(
    {*vocab.OPERATORS, *vocab.OPERATOR_ALIASES, "≧", "≦", "=<", "=>"}, key=len, reverse=True
)
_OPERATOR_PATTERN = "|".join(re.escape(spelling) for spelling in _OPERATOR_SPELLINGS)
_VALUE_PATTERN = re.compile(
    rf"^(?P<operator>{_OPERATOR_PATTERN})?(?P<number>[+-]?(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?|[+-]?\.\d+)"
    r"(?P<unit>[^\d]{0,12}?)(?P<suffix>及以上|以上|及以下|以下|以内|之内|内)?$"
)
# 95%以上 / 3个工作日以内: the suffix says the direction (以上 includes the number in Chinese usage).
_SUFFIX_OPERATORS = {"及以上": "≥", "以上": "≥", "及以下": "≤", "以下": "≤", "以内": "≤", "之内": "≤", "内": "≤"}
_PLACEHOLDER = re.compile(r"(?i)(xx|××|\*\*|＊＊|某某|待定|tbd)")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
_EXTRA_OPERATORS = {"=<": "≤", "=>": "≥"}


@dataclass(frozen=True)
class ParsedValue:
    """A target split into its parts; ``operator``/``unit`` are empty when not written in the cell."""

    operator: str
    number: str | None
    unit: str
    text: str

    @property
    def is_number(self) -> bool:
        return self.number is not None


def squeeze(text: str) -> str:
    """NFKC (full-width → half-width) and no whitespace at all: for codes, units, symbols, choices."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def clean_text(text: str) -> str:
    """Free text: trimmed of ordinary, full-width and no-break spaces; inner line breaks kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").replace("\u3000", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line).strip()


def clean_name(text: str) -> str:
    """A name on one line: line breaks (Alt+Enter in Excel) and runs of spaces become one space."""
    return re.sub(r"\s+", " ", clean_text(text)).strip()


def unescape_formula_guard(text: str) -> str:
    """Drop the ``'`` our exports put before text starting with = + - @ (see :func:`neutralize`)."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_TRIGGERS:
        return text[1:]
    return text


def neutralize(text: str) -> str:
    """Text that a spreadsheet will not run as a formula: prefix ``'`` when it starts with = + - @ TAB CR NUL.

    Characters XML cannot carry (BEL, ESC, lone surrogates…) and invisible bidi/zero-width ones are
    scrubbed first: one stored before input was checked must not make the export fail (item 5)."""
    text = scrub(text)
    if text and text[0] in FORMULA_TRIGGERS:
        return "'" + text
    return text


def number_text(value: int | float | Decimal, percent: bool = False) -> str:
    """A number as the library writes it: ``95``, ``0.5``, ``12000``; ``percent`` scales 0.95 → 95."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if percent:
        number *= 100
    # Floats from Excel carry binary noise (0.1 + 0.2); 10 significant decimals is beyond any target.
    number = round(number, 10).normalize()
    text = format(number, "f")
    return "0" if text in ("-0", "+0") else text


def cell_text(value: object, percent_format: bool = False) -> str:
    """The text of a cell value read by openpyxl or csv (numbers without a trailing ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float, Decimal)):
        return number_text(value, percent=percent_format)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return unescape_formula_guard(str(value))


def is_placeholder(text: str) -> bool:
    """Template placeholders left in place (``XX``, ``≥**%``, ``某某``)."""
    return bool(_PLACEHOLDER.search(text))


def parse_target(text: str) -> ParsedValue:
    """Split ``≥95%``/``＞＝95 ％``/``12,000人``/``达到预期`` into operator, number and unit.

    Text that is not an (optional operator +) number (+ unit) is returned as a qualitative value.
    """
    squeezed = squeeze(text)
    match = _VALUE_PATTERN.match(squeezed)
    if not match:
        return ParsedValue("", None, "", clean_text(text))
    operator = match.group("operator") or ""
    operator = _EXTRA_OPERATORS.get(operator, vocab.canonical_operator(operator)) if operator else ""
    suffix = match.group("suffix")
    if suffix and operator and operator != _SUFFIX_OPERATORS[suffix]:
        return ParsedValue("", None, "", clean_text(text))  # ≥95%以下: contradictory, leave it to a person
    operator = operator or _SUFFIX_OPERATORS.get(suffix or "", "")
    number = match.group("number").replace(",", "")
    unit = match.group("unit")
    if unit.startswith("百分之"):
        return ParsedValue("", None, "", clean_text(text))
    try:
        number = number_text(Decimal(number))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        return ParsedValue("", None, "", clean_text(text))
    return ParsedValue(operator, number, vocab.units().canonical(unit) if unit else "", squeezed)


def canonical_operator(text: str) -> str:
    """The operator as the schema wants it (``>=`` → ``≥``, ``=<`` → ``≤``)."""
    squeezed = squeeze(text)
    return _EXTRA_OPERATORS.get(squeezed, vocab.canonical_operator(squeezed))


def split_list(text: str) -> list[str]:
    """``项目一、项目二；项目三`` → three items (empty items dropped, spaces trimmed).

    Separators inside brackets do not split (``学生资助（助学金、免学杂费）`` is one item). A cell with
    line breaks lists one item per line (our exports do this when an item holds a separator).
    """
    return [item for item in _split(text, "、,，;；") if item]


def split_basis(text: str, keep_empty: bool = False) -> list[str]:
    """Basis cells list several sources separated by ``；`` or line breaks (``、`` may occur in titles)."""
    parts = _split(text, ";；")
    return parts if keep_empty else [part for part in parts if part]


_OPENING, _CLOSING = "（(《“‘〔[【", "）)》”’〕]】"


def _split(text: str, separators: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\n" in text:
        return [clean_name(line) for line in text.split("\n")]
    parts, current, depth = [], [], 0
    for char in text:
        if char in _OPENING:
            depth += 1
        elif char in _CLOSING:
            depth = max(depth - 1, 0)
        if char in separators and depth == 0:
            parts.append(clean_name("".join(current)))
            current = []
        else:
            current.append(char)
    parts.append(clean_name("".join(current)))
    return parts


BASIS_KIND_ALIASES = {
    "政策": "政策文件", "政策依据": "政策文件", "文件": "政策文件", "法规": "政策文件", "政策法规": "政策文件",
    "行业": "行业标准", "标准": "行业标准", "国家标准": "行业标准", "技术标准": "行业标准",
    "历史": "历史标准", "历史数据": "历史标准", "历史值": "历史标准",
    "计划": "计划标准", "计划数": "计划标准", "规划": "计划标准",
    "三定": "三定方案", "部门职能": "三定方案", "职能": "三定方案",
    "其它": "其他", "其他标准": "其他", "其它标准": "其他",
}


def canonical_basis_kind(text: str) -> str:
    """``历史数据`` → ``历史标准``, ``其它`` → ``其他``; unknown kinds are returned squeezed."""
    squeezed = squeeze(text)
    return BASIS_KIND_ALIASES.get(squeezed, squeezed)

"""Characters no field of ours may hold (issue 14 item 5), and scrubbing them from stored text.

Control characters (BEL, ESC…), NUL and lone surrogates break XML-based exports (an ``.xlsx`` with
one of them is refused by Excel, openpyxl raises); zero-width and bidi-override characters make
text look different from what it is (a name that reads as another, “Trojan source” tricks). They
are refused on input by the shared schema, so every channel (web form, API, YAML, Excel import)
gives the same located message, and scrubbed on output for what was stored before the rule.
"""
from __future__ import annotations

import unicodedata

#: Invisible characters that change how text looks: zero-width and joiners, the BOM, bidi marks,
#: embeddings, overrides and isolates.
INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width space / non-joiner / joiner, word joiner, BOM
    "\u200e\u200f\u061c"  # left-to-right, right-to-left and Arabic letter marks
    "\u202a\u202b\u202c\u202d\u202e"  # bidi embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # bidi isolates
)
LINE_BREAKS = frozenset("\n\r")
_NAMES = {"\x00": "空字符 NUL", "\x07": "响铃符 BEL", "\x1b": "转义符 ESC", "\x7f": "删除符 DEL"}


def forbidden_character(text: str, *, multiline: bool = True) -> tuple[int, str] | None:
    """The first character ``text`` may not hold as ``(position from 1, description)``, else None.

    TAB is allowed; CR/LF only when ``multiline`` (a name or code is one line)."""
    for position, char in enumerate(text, start=1):
        description = _describe(char, multiline)
        if description:
            return position, description
    return None


def _describe(char: str, multiline: bool) -> str:
    if char == "\t" or (multiline and char in LINE_BREAKS):
        return ""
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return f"不成对的代理字符（U+{code:04X}，通常是复制或转码出错）"
    if char in INVISIBLE:
        return f"不可见的格式字符（U+{code:04X}，零宽或文字方向控制符）"
    if char in LINE_BREAKS:
        return "换行符（此项只能写在一行内）"
    if unicodedata.category(char) == "Cc" or code in (0xFFFE, 0xFFFF):
        label = _NAMES.get(char, "控制字符")
        return f"不可见的{label}（U+{code:04X}）"
    return ""


def forbidden_message(text: str, *, multiline: bool = True) -> str | None:
    """A Chinese message locating the first forbidden character of ``text``, or None."""
    found = forbidden_character(text, multiline=multiline)
    if found is None:
        return None
    position, description = found
    return f"第 {position} 个字符是{description}，请删除后重新填写（可先粘贴到记事本中去掉格式）。"


def scrub(text: str) -> str:
    """``text`` without the forbidden characters (lone surrogates become U+FFFD, the rest are
    dropped; TAB, CR and LF are kept): safe for XML-based exports whatever was stored."""
    if text.isprintable() and text.isascii():
        return text  # the common case, cheaply
    out = []
    for char in text:
        if 0xD800 <= ord(char) <= 0xDFFF:
            out.append("\ufffd")
        elif not _describe(char, multiline=True):
            out.append(char)
    return "".join(out)

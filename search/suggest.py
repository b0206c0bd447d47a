"""Instant suggestions while typing: titles by prefix, by substring, then by pinyin."""
from __future__ import annotations

from collections.abc import Sequence

from search.analysis import PinyinLexicon, looks_like_pinyin, pinyin_full, pinyin_initials


def suggest_titles(prefix: str, titles: Sequence[str], lexicon: PinyinLexicon, limit: int = 8) -> list[str]:
    """Up to ``limit`` titles for a normalised ``prefix``: starts-with first, then contains, then pinyin."""
    if not prefix:
        return []
    starts = [t for t in titles if t.startswith(prefix)]
    contains = [t for t in titles if prefix in t and not t.startswith(prefix)]
    found = sorted(starts, key=len) + sorted(contains, key=len)
    if len(found) < limit and looks_like_pinyin(prefix):
        letters = prefix.replace(" ", "")
        spelled = [t for t in titles if pinyin_full(t).startswith(letters) or pinyin_initials(t).startswith(letters)]
        found += sorted((t for t in spelled if t not in found), key=len)
    return found[:limit]

"""Which departments a query names, for any department in the departments table (no list of aliases).

People name a county department in many ways: the full name (县卫生健康局), without the county prefix
(卫生健康局), without its ending (卫生健康), by the leading words (农业农村, 住房), or by the usual
abbreviation made of the first character of each word (卫健, 人社, 住建, 发改, 市监, 文旅), often with an
ending of its own (卫健委, 住建局). All of these are derived from the name itself, so a department loaded
tomorrow is understood the same way.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

# Prefixes and suffixes of county department names that a person leaves out when naming one.
NAME_PREFIXES = ("中共襄垣县委", "襄垣县", "长治市", "县")
DEPARTMENT_ENDINGS = ("中心", *"局委办院馆会队所站段部")
# Set to False to measure the engine without abbreviation matching (benchmarks/relevance.py --without).
ABBREVIATIONS = True


@lru_cache(maxsize=4096)
def core_name(name: str) -> str:
    """The name without the county prefix (县教育局 → 教育局)."""
    for prefix in NAME_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix) + 1:
            return name[len(prefix):]
    return name


@lru_cache(maxsize=4096)
def _stem(name: str) -> str:
    """The core name without its ending (卫生健康局 → 卫生健康)."""
    for ending in DEPARTMENT_ENDINGS:
        if name.endswith(ending) and len(name) > len(ending) + 1:
            return name[: -len(ending)]
    return name


@lru_cache(maxsize=4096)
def _word_starts(stem: str) -> tuple[int, ...]:
    """Where the words of a department name start: its parts joined by 和 are made of two-character words
    (人力资源和社会保障 → 人 资 | 社 保), which is how abbreviations pick their characters."""
    starts, position = [], 0
    for part in stem.split("和"):
        starts += list(range(position, position + len(part), 2))
        position += len(part) + 1
    return tuple(starts)


def _is_subsequence(part: str, whole: str) -> bool:
    position = 0
    for char in part:
        position = whole.find(char, position) + 1
        if not position:
            return False
    return True


def _is_abbreviation(word: str, stem: str) -> bool:
    """``word`` takes the first character of some of ``stem``'s words, in order, starting with the first."""
    starts = _word_starts(stem)
    position = 0
    for char in word:
        following = [i for i in starts if i >= position and stem[i] == char]
        if not following:
            return False
        position = following[0] + 1
    return word[0] == stem[0]


def is_name_word(word: str, name: str) -> bool:
    """``word`` can only mean the department (卫健委, 住建, 教育局), unlike a leading word of its name that
    is also an ordinary word (教育, 住房, 卫生): the latter stays part of the text to search."""
    core = core_name(name)
    stem = _stem(core)
    return word in (core, stem) or word.endswith(DEPARTMENT_ENDINGS) or not stem.startswith(word)


@lru_cache(maxsize=65536)
def mentions(word: str, name: str) -> bool:
    """``word`` names the department called ``name``."""
    core = core_name(name)
    if len(word) < 2 or word[0] != core[0]:
        return False
    stem = _stem(core)
    if word in (core, stem) or (len(word) >= 2 and stem.startswith(word)):
        return True
    # Same characters in order, ending like a department (教育局, 机关事务中心) or covering most of it (民政).
    if len(word) <= len(core) and _is_subsequence(word, core) and (word.endswith(DEPARTMENT_ENDINGS) or len(word) * 3 >= len(core) * 2):
        return True
    if not ABBREVIATIONS:
        return False
    bare = _stem(word) if word.endswith(DEPARTMENT_ENDINGS) else word
    return len(bare) >= 2 and _is_abbreviation(bare, stem)


def find_departments(text: str, departments: Iterable[tuple[str, str]], longest: int = 12) -> list[tuple[str, str]]:
    """``(word, code)`` for each department named in ``text`` (longest words first, not overlapping).

    ``departments`` holds ``(code, name)``; when a word names several, the one with the shortest name is
    meant (教育局, not a school of it).
    """
    by_first: dict[str, list[tuple[str, str]]] = {}
    for code, name in departments:
        if name:
            by_first.setdefault(core_name(name)[0], []).append((code, name))
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(text) - 1:
        candidates = by_first.get(text[i], ())  # a department word starts like the name (cheap pre-check)
        # A department word is at most its core name plus an ending of its own.
        widest = max((len(core_name(name)) + 2 for _, name in candidates), default=0)
        for length in range(min(longest, widest, len(text) - i), 1, -1) if candidates else ():
            word = text[i:i + length]
            matches = [(len(core_name(name)), code) for code, name in candidates if mentions(word, name)]
            if matches:
                found.append((word, min(matches)[1]))
                i += length
                break
        else:
            i += 1
    return found

"""Our own Chinese analyzer: normalisation, jieba segmentation, synonyms, pinyin.

Why not ``jieba.analyse.ChineseAnalyzer``: it drops single non-CJK characters (digits, letters, ``%``),
stems Chinese text with an English stemmer, removes stop words and costs +0.5 s / +96 MB per process
(search-performance.md). Here every token survives, nothing is stemmed, and the dictionary words, the
synonyms and the vocabulary for pinyin come in as data (this package knows nothing of the domain).
"""
from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import jieba
from opencc import OpenCC
from pypinyin import Style, lazy_pinyin

jieba.setLogLevel(logging.WARNING)

# Spellings that mean the same symbol; applied after NFKC (which already maps ％ → %, ＬＥＤ → LED, ６５ → 65).
_SYMBOLS = (
    (">=", "≥"), ("=>", "≥"), ("≧", "≥"), ("<=", "≤"), ("=<", "≤"), ("≦", "≤"),
    ("﹪", "%"), ("‰", "‰"), ("·", "·"), ("•", "·"), ("—", "-"), ("–", "-"), ("～", "~"),
)
_TOKEN_CHAR = re.compile(r"[\w%‰≥≤]")
_ASCII_WORD = re.compile(r"^[a-z]+$")
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Longest sub-word of a long token that is also indexed on its own (jieba's search mode stops at 3).
_MAX_SUBWORD = 6


@functools.cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


@functools.lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Full → half width, traditional → simplified, lower case, one spelling per symbol, single spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    for variant, canonical in _SYMBOLS:
        text = text.replace(variant, canonical)
    if not text.isascii():
        text = _t2s().convert(text)
    return re.sub(r"\s+", " ", text.lower()).strip()


def is_cjk(text: str) -> bool:
    """True when ``text`` contains a Chinese character."""
    return bool(_CJK.search(text))


_SHARED: dict[str, object] = {}
_SHARED_LOCK = threading.Lock()


def _shared_tokenizer() -> tuple[jieba.Tokenizer, threading.Lock]:
    """One jieba dictionary per process (loading it takes ~0.5 s and ~100 MB); analyzers add their words to it."""
    with _SHARED_LOCK:
        if "tokenizer" not in _SHARED:
            _SHARED["tokenizer"] = jieba.Tokenizer()
            _SHARED["lock"] = threading.Lock()
        return _SHARED["tokenizer"], _SHARED["lock"]


class Analyzer:
    """jieba segmentation (search mode) with a user dictionary, over normalised text.

    ``user_words`` are added to the dictionary (indicator names, department names, projects,
    keywords, custom terms…). The jieba dictionary is shared by every analyzer of the process.
    """

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        self._tokenizer, self._lock = _shared_tokenizer()
        self._ready = self._tokenizer.initialized
        self._pending: set[str] = set()
        self._cache: dict[str, tuple[str, ...]] = {}
        self.add_words(user_words)

    def add_words(self, words: Iterable[str]) -> None:
        """Teach the segmenter more words (applied before the next tokenisation)."""
        with self._lock:
            self._pending.update(w for w in (normalize(w) for w in words) if 2 <= len(w) <= 12 and _WORD.fullmatch(w))
            if self._ready:
                self._flush_words()
        self._cache = {}

    def _flush_words(self) -> None:
        for word in self._pending:
            if word not in self._tokenizer.FREQ or not self._tokenizer.FREQ[word]:
                self._tokenizer.add_word(word, freq=max(self._tokenizer.suggest_freq(word, tune=False), 5))
        self._pending.clear()

    def _ensure_ready(self) -> None:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    if not self._tokenizer.initialized:
                        self._tokenizer.initialize()
                    self._ready = True
                    self._flush_words()

    def warm_up(self) -> None:
        """Load the dictionary now (e.g. in a background thread at start-up)."""
        self._ensure_ready()

    def is_word(self, word: str) -> bool:
        """True when ``word`` is in the dictionary (built-in or user words)."""
        self._ensure_ready()
        return bool(self._tokenizer.FREQ.get(word))

    def words(self, text: str) -> list[str]:
        """The accurate-mode segmentation of normalised ``text``, symbols and spaces dropped."""
        self._ensure_ready()
        return [w for w in self._tokenizer.cut(normalize(text), HMM=False) if _TOKEN_CHAR.match(w)]

    def known_positions(self, text: str) -> set[int]:
        """Positions in normalised ``text`` covered by dictionary words of two or more characters."""
        self._ensure_ready()
        return {
            position
            for word, start, end in self._tokenizer.tokenize(normalize(text), HMM=False)
            if len(word) > 1 and self._tokenizer.FREQ.get(word)
            for position in range(start, end)
        }

    def tokens(self, text: str) -> tuple[str, ...]:
        """Search-mode tokens: every word plus its dictionary sub-words; single characters and digits kept."""
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        out: list[str] = []
        for word in self.words(text):
            out.append(word)
            if len(word) > 2 and is_cjk(word):
                out.extend(self._subwords(word))
        result = tuple(out)
        if len(self._cache) > 200_000:  # texts repeat a lot in a library; keep the cache bounded
            self._cache = {}
        self._cache[text] = result
        return result

    def _subwords(self, word: str) -> list[str]:
        found = []
        for size in range(2, min(len(word) - 1, _MAX_SUBWORD) + 1):
            for start in range(len(word) - size + 1):
                part = word[start:start + size]
                if self._tokenizer.FREQ.get(part):
                    found.append(part)
        return found


@functools.lru_cache(maxsize=200_000)
def syllables(text: str) -> tuple[str, ...]:
    """Toneless pinyin of each character (non-Chinese characters pass through)."""
    return tuple(lazy_pinyin(text, errors=lambda chars: list(chars)))


def pinyin_full(text: str) -> str:
    """``满意度`` → ``manyidu``."""
    return "".join(syllables(text))


def pinyin_initials(text: str) -> str:
    """``满意度`` → ``myd``."""
    return "".join(s[0] for s in syllables(text) if s)


def looks_like_pinyin(text: str) -> bool:
    """An all-Latin query of letters and spaces (``manyidu``, ``yszxl``, ``yusuan zhixinglv``)."""
    return bool(text) and all(_ASCII_WORD.match(part) for part in text.split())


class Synonyms:
    """Equivalent terms expanded at query time (``满意度`` ↔ ``满意率``).

    ``groups`` is a list of term lists; every term of a group is equivalent to the others.
    """

    def __init__(self, groups: Iterable[Sequence[str]] = ()) -> None:
        self._equivalents: dict[str, set[str]] = {}
        for group in groups:
            terms = [normalize(str(t)) for t in group if str(t).strip()]
            for term in terms:
                self._equivalents.setdefault(term, set()).update(t for t in terms if t != term)
        # Longest first so 按时足额 is seen before 按时.
        self._terms = sorted(self._equivalents, key=len, reverse=True)

    def __len__(self) -> int:
        return sum(len(v) for v in self._equivalents.values()) // 2

    def __bool__(self) -> bool:  # ``if thesaurus:`` on every query must not count its pairs (issue 15)
        return bool(self._equivalents)

    def equivalents(self, term: str) -> set[str]:
        """The other terms of ``term``'s groups."""
        return set(self._equivalents.get(normalize(term), ()))

    def expand(self, text: str, tokens: Iterable[str] = ()) -> list[tuple[str, str]]:
        """``(found, equivalent)`` pairs for every synonym term appearing in normalised ``text``.

        A one-character term (村, 率) counts only as a whole token of ``tokens``, not inside a word (乡村).
        """
        text = normalize(text)
        tokens = set(tokens)
        pairs = []
        for term in self._terms:
            if (term in tokens) if len(term) == 1 else (term in text):
                pairs.extend((term, other) for other in sorted(self._equivalents[term]))
        return pairs


class PinyinLexicon:
    """Turns pinyin (full spelling or initials) back into Chinese using a vocabulary of phrases.

    The vocabulary is the library's own words (e.g. the distinct indicator names); a query such as
    ``yusuan zhixinglv`` becomes ``预算 执行率``, ``yszxl`` becomes ``预算执行率``.
    """

    def __init__(self, phrases: Iterable[str] = ()) -> None:
        self._entries: dict[str, tuple[tuple[str, ...], str, str]] = {}
        self.add(phrases)

    def add(self, phrases: Iterable[str]) -> None:
        for phrase in phrases:
            phrase = normalize(phrase)
            if phrase and phrase not in self._entries and is_cjk(phrase):
                sy = syllables(phrase)
                self._entries[phrase] = (sy, "".join(sy), "".join(s[0] for s in sy if s))

    def __len__(self) -> int:
        return len(self._entries)

    def to_chinese(self, query: str, limit: int = 3) -> list[str]:
        """Chinese readings of a pinyin query, best first (empty when nothing fits)."""
        chunks = [c for c in normalize(query).split() if c]
        if not chunks:
            return []
        joined = "".join(chunks)
        exact = [p for p, (_, full, initials) in self._entries.items() if joined in (full, initials)]
        if exact:
            return sorted(exact, key=len)[:limit]
        # Each chunk: the run of characters whose syllables spell it (or whose initials do), most common first.
        readings = []
        for chunk in chunks:
            counts: dict[str, int] = {}
            for phrase, (sy, full, initials) in self._entries.items():
                if chunk in full:
                    run = _spelled_run(phrase, sy, chunk)
                    if run:
                        counts[run] = counts.get(run, 0) + 1
                elif len(chunk) >= 3 and chunk in initials:
                    start = initials.index(chunk)
                    run = phrase[start:start + len(chunk)]
                    counts[run] = counts.get(run, 0) + 1
            if counts:
                readings.append(max(counts, key=lambda r: (counts[r], len(r))))
        return [" ".join(readings)] if readings else []


def _spelled_run(phrase: str, sy: Sequence[str], chunk: str) -> str | None:
    """The characters of ``phrase`` whose syllables, joined, are exactly ``chunk``."""
    for start in range(len(sy)):
        spelled = ""
        for end in range(start, len(sy)):
            spelled += sy[end]
            if spelled == chunk:
                return phrase[start:end + 1]
            if not chunk.startswith(spelled):
                break
    return None


class Homophones:
    """Typo repair by sound: ``高学压`` → ``高血压``, ``发方`` → ``发放`` (same pinyin, known word)."""

    def __init__(self, words: Iterable[str] = ()) -> None:
        self._by_sound: dict[str, dict[str, int]] = {}
        self.add(words)

    def add(self, words: Iterable[str], weight: int = 1) -> None:
        for word in words:
            if is_cjk(word):
                bucket = self._by_sound.setdefault(pinyin_full(word), {})
                bucket[word] = bucket.get(word, 0) + weight

    def correct(self, text: str, known: Mapping[str, int] | set[str], single: bool = True,
                protected: set[int] = frozenset()) -> str:
        """``text`` with unknown runs replaced by the most common known word that sounds the same.

        Known words (2–4 characters) are kept as they are; an unknown run of 2–4 characters is
        replaced by a known word that sounds the same and differs in one character; with ``single``,
        an unknown single character by the most common known character that sounds the same. Positions
        in ``protected`` (real words such as 教材, even if the index lacks them) are never changed.
        """
        text = normalize(text)
        out, i = [], 0
        while i < len(text):
            kept = next((n for n in (4, 3, 2) if len(text[i:i + n]) == n and text[i:i + n] in known), 0)
            if kept:
                out.append(text[i:i + kept])
                i += kept
                continue
            replaced = 0
            for size in (4, 3, 2):
                run = text[i:i + size]
                if len(run) < size or not all(is_cjk(c) for c in run):
                    continue
                if all(p in protected for p in range(i, i + size)):
                    continue
                candidates = self._by_sound.get(pinyin_full(run), {})
                best = max(candidates, key=candidates.get, default=None)
                if best and len(best) == size and sum(a != b for a, b in zip(best, run)) == 1:
                    out.append(best)
                    replaced = size
                    break
            if not replaced and single and is_cjk(text[i]) and text[i] not in known and i not in protected:
                candidates = {w: n for w, n in self._by_sound.get(pinyin_full(text[i]), {}).items() if len(w) == 1}
                best = max(candidates, key=candidates.get, default=None)
                if best:
                    out.append(best)
                    replaced = 1
            if replaced:
                i += replaced
            else:
                out.append(text[i])
                i += 1
        return "".join(out)


def highlight(text: str, terms: Iterable[str], start: str = "<mark>", end: str = "</mark>") -> str:
    """``text`` (HTML-escaped) with the longest matches of ``terms`` wrapped in ``start``/``end``."""
    import html

    terms = sorted({t for t in terms if t and (len(t) > 1 or is_cjk(t) or t.isdigit())}, key=len, reverse=True)
    if not text or not terms:
        return html.escape(text or "")
    folded = normalize(text) if len(normalize(text)) == len(text) else text.lower()
    marks = [False] * len(text)
    for term in terms:
        position = folded.find(term)
        while position >= 0:
            for k in range(position, position + len(term)):
                marks[k] = True
            position = folded.find(term, position + len(term))
    out, inside = [], False
    for char, marked in zip(text, marks):
        if marked != inside:
            out.append(start if marked else end)
            inside = marked
        out.append(html.escape(char))
    if inside:
        out.append(end)
    return "".join(out)

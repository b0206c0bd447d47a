"""Query planning and re-ranking, independent of the index engine.

A user's text becomes a short list of weighted terms: tokens of the text, sound-alike repairs of
typos, synonyms and pinyin readings, pruned by document frequency so that long pasted descriptions
do not explode into hundreds of posting lists (search-performance.md: the only big lever in Whoosh).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from search.analysis import Analyzer, Homophones, PinyinLexicon, Synonyms, is_cjk, looks_like_pinyin, normalize

# Weights of the kinds of terms, relative to a token the user typed.
TYPO_WEIGHT = 0.9
SYNONYM_WEIGHT = 0.7
# The general thesaurus (kb/indicators/thesaurus.tsv, built from cnsyn): far noisier than the hand-written
# synonyms, so below them, and at most this many of the library's words per typed word.
THESAURUS_WEIGHT, THESAURUS_WORDS = 0.3, 3
# Word vectors (search/vectors.py): the library's words nearest in meaning to a typed word that is not already a
# strong match, weighted by this times their cosine similarity, at most so many, none below the floor.
SIMILAR_WEIGHT, SIMILAR_WORDS, SIMILAR_FLOOR = 0.3, 6, 0.5
PINYIN_WEIGHT = 1.0
CONTAINING_WEIGHT = 0.8
MISSPELT_WEIGHT = 0.3
LEAD_WEIGHT = 1.5
# Unknown words (no document has them: 修房子): their known two-character pieces, and for a short
# query the library's words sharing a character with them, weigh this much (below any typed word).
NGRAM_WEIGHT, NGRAM_CHAR_WEIGHT, NGRAM_WORDS = 0.6, 0.3, 4
# Ranking features that can be switched off (benchmarks/relevance.py --without, the ablation table).
FEATURES = frozenset({"ngram", "vectors", "meaning"})
# A token found in more than this share of documents says little (用于, 服务, 率 …).
STOP_SHARE = 0.2
# The most terms handed to the engine; the most telling win (client-side minimum-should-match).
MAX_TERMS = 12
# Longer queries are pasted descriptions: typos are unlikely there and numbers are quantities.
SHORT_QUERY = 16
# How much a word found only in definitions counts against one found in titles or keywords.
PROSE_FACTOR = 0.3


@dataclass
class Plan:
    """The terms to search for and what to tell the user about the query."""

    text: str
    terms: dict[str, float] = field(default_factory=dict)  # token → weight (after pruning)
    idf: dict[str, float] = field(default_factory=dict)
    typed: set[str] = field(default_factory=set)  # tokens the user typed (or their pinyin reading)
    corrected: str | None = None  # the query with typos repaired, when that differs
    # token → (how it entered the query, the typed word it came from): explains a hit (see ranking).
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)


# How a term entered the query, as the search page and the API explain a hit.
TYPED, SYNONYM, TYPO, PINYIN, CONTAINING, NGRAM = "输入词", "同义词", "纠错", "拼音", "含该字的词", "字面相近"
THESAURUS = "通用同义词库"
SIMILAR = "词义相近"
MEANT = "整句意思相近"
# The kinds of terms the engine guessed (no one wrote them down): finance may reject one (typed word, term) pair.
GUESSED = (THESAURUS, SIMILAR, NGRAM, CONTAINING)


def plan_query(
    text: str,
    analyzer: Analyzer,
    doc_frequency: Callable[[str], int],
    total_docs: int,
    synonyms: Synonyms,
    pinyin: Callable[[], PinyinLexicon],
    homophones: Callable[[], tuple[Homophones, Mapping[str, int]]],
    is_title_word: Callable[[str], bool] = lambda token: True,
    containing: Callable[[str], list[str]] = lambda char: [],
    features: frozenset[str] = FEATURES,
    thesaurus: Synonyms | None = None,
    similar: Callable[[str], list[tuple[str, float]]] | None = None,
    rejected: Collection[tuple[str, str]] = frozenset(),
) -> Plan:
    """Weighted, pruned terms for ``text`` (``doc_frequency`` counts documents containing a token;
    ``similar`` gives the library's words nearest in meaning to a word, with their similarity; ``rejected``
    holds the guessed ``(typed word, term)`` pairs finance turned down)."""
    text = normalize(text)
    plan = Plan(text=text)
    if not text:
        return plan
    candidates: dict[str, float] = {}

    def add(tokens: Iterable[str], weight: float, kind: str = TYPED, source: str = "") -> None:
        for token in tokens:
            if kind in GUESSED and (source, token) in rejected:
                continue
            if candidates.get(token, 0.0) < weight:
                candidates[token] = weight
                plan.origins[token] = (kind, source or token)

    typed = list(analyzer.tokens(text))
    if len(text) > SHORT_QUERY:
        # A pasted description starts with the project's name (农村危房改造补助：…): its words weigh more.
        lead = re.split(r"[:：,，。;；]", text, maxsplit=1)[0]
        if len(lead) < len(text):
            add(analyzer.tokens(lead), LEAD_WEIGHT)
    add(typed, 1.0)
    plan.typed.update(typed)
    if looks_like_pinyin(text) and not any(doc_frequency(t) for t in typed):
        for reading in pinyin().to_chinese(text):
            reading_tokens = analyzer.tokens(reading)
            add(reading_tokens, PINYIN_WEIGHT, PINYIN, text)
            plan.typed.update(reading_tokens)
            plan.corrected = plan.corrected or reading.replace(" ", "")
    short = len(text) <= SHORT_QUERY
    if is_cjk(text) and short:
        repair, known = homophones()
        corrected = repair.correct(text, known, single=True, protected=analyzer.known_positions(text))
        if corrected != text:
            plan.corrected = corrected
            repaired = analyzer.tokens(corrected)
            # The misspelt pieces (学, 压 of 高学压) would otherwise outweigh the repaired word.
            for token in [t for t in candidates if t not in repaired]:
                candidates[token] = MISSPELT_WEIGHT
            plan.typed = (plan.typed & set(repaired)) | set(repaired)
            add((t for t in repaired if t not in candidates), TYPO_WEIGHT, TYPO, text)
    for found, other in synonyms.expand(plan.corrected or text, candidates):
        tokens = analyzer.tokens(other)
        # 占比 splits into 占 + 比: single characters of a longer synonym only add noise.
        add((t for t in tokens if len(t) > 1 or len(other) == 1), SYNONYM_WEIGHT, SYNONYM, found)

    if thesaurus:
        _add_thesaurus(plan.typed, thesaurus, doc_frequency, is_title_word, candidates, add)
    if similar and "vectors" in features:
        _add_similar(plan.typed, similar, is_title_word, candidates, add)
    if "ngram" in features:
        _add_ngrams(typed, short, doc_frequency, containing, add)
    if not short:
        candidates = {t: w for t, w in candidates.items() if not t.isdigit()}
    # A single character finds the words containing it too (灯: 路灯, 亮灯率), when it is the query or
    # is never a word on its own.
    singles = [t for t, w in candidates.items()
               if len(t) == 1 and is_cjk(t) and w >= 1.0 and (len(text) == 1 or not doc_frequency(t))]
    for token in singles if short else ():
        add(containing(token), CONTAINING_WEIGHT, CONTAINING, token)
    frequencies = {token: doc_frequency(token) for token in candidates}
    present = {t: w for t, w in candidates.items() if frequencies[t] > 0}
    total_docs = max(total_docs, 1)
    plan.idf = {t: math.log(1 + total_docs / frequencies[t]) for t in present}
    informative = {t: w for t, w in present.items() if frequencies[t] <= STOP_SHARE * total_docs}
    chosen = informative or present
    if len(chosen) > MAX_TERMS:
        # Words that name things (found in titles or keywords) tell more than rare words of prose.
        ranked = sorted(chosen, key=lambda t: chosen[t] * plan.idf[t] * (1.0 if is_title_word(t) else PROSE_FACTOR),
                        reverse=True)[:MAX_TERMS]
        chosen = {t: chosen[t] for t in ranked}
    plan.terms = chosen
    return plan


def _add_thesaurus(typed, thesaurus: Synonyms, doc_frequency, is_title_word, candidates, add) -> None:
    """General-thesaurus equivalents of typed words that are not already strong matches (absent from the
    index or only in prose: 修房子, 老人), limited to the library's own words (document frequency > 0),
    the most frequent first: an everyday word then reaches the official wording (住房, 老年人)."""
    for token in sorted(typed):
        if len(token) < 2 or not is_cjk(token) or is_title_word(token):
            continue
        others = [o for o in sorted(thesaurus.equivalents(token)) if o not in candidates]
        found = sorted(((doc_frequency(o), o) for o in others[:4 * THESAURUS_WORDS]), reverse=True)
        add([o for n, o in found[:THESAURUS_WORDS] if n], THESAURUS_WEIGHT, THESAURUS, token)


def _add_similar(typed, similar, is_title_word, candidates, add) -> None:
    """The library's words nearest in meaning to typed words that are not already strong matches (看病 → 就医,
    补贴 → 补助): a general corpus places everyday and official wording close where no list was written."""
    for token in sorted(typed):
        if len(token) < 2 or not is_cjk(token) or is_title_word(token):
            continue
        for word, score in similar(token):
            if word not in candidates:
                add([word], SIMILAR_WEIGHT * score, SIMILAR, token)


def _add_ngrams(typed, short: bool, doc_frequency, containing, add) -> None:
    """A character n-gram signal for words of three or more characters no document contains: everyday
    words (修房子, 几十年一遇) share pieces with the official ones (房 → 危房, 住房; 十年). Two-character
    unknown words are left alone: one shared character (路 of 路灯 in 道路) is more noise than signal."""
    for token in dict.fromkeys(typed):
        if len(token) < 3 or not is_cjk(token) or doc_frequency(token):
            continue
        known = [token[i:i + 2] for i in range(len(token) - 1) if doc_frequency(token[i:i + 2])]
        add(known, NGRAM_WEIGHT, NGRAM, token)
        covered = {char for piece in known for char in piece}
        for char in token if short else ():
            if char not in covered:
                add(containing(char)[:NGRAM_WORDS], NGRAM_CHAR_WEIGHT, NGRAM, token)


def coverage(tokens: Iterable[str], matched: Mapping[str, float], idf: Mapping[str, float]) -> float:
    """Share (idf-weighted) of ``tokens`` found among ``matched`` terms, weighted by their weights."""
    total = found = 0.0
    for token in set(tokens):
        weight = idf.get(token, 1.0)
        total += weight
        found += weight * matched.get(token, 0.0)
    return found / total if total else 0.0

"""One search over any engine: plan, candidates, re-rank, minimum match, facets, highlights, page.

The ranker speaks only the neutral description of search/reader.py: it hands the engine one
:class:`MatchQuery` per step and re-ranks the plain :class:`Candidate` values that come back, so every
backend ranks the same way (the contract suite and the relevance figures hold on each of them).
"""
from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Iterable

from search.analysis import Analyzer, Synonyms, highlight, normalize
from search.base import FieldSpec, Hit, Reason, SearchQuery, SearchResults
from search.planner import (FEATURES, MEANT, SHORT_QUERY, SIMILAR_FLOOR, SIMILAR_WORDS, TYPED, Plan, coverage,
                            plan_query)
from search.meaning import SentenceModel, pool_bonus, unpack
from search.reader import Candidate, MatchQuery, Reader, TermClause, facet_values
from search.vectors import WordVectors

# Shares of the final score: the engine's BM25F score, how much of the query the document covers (the typed words
# it holds, idf-weighted; expansions count through the BM25F score), and how much of the document's title
# the query covers (a pasted description naming the indicator). Set by coordinate ascent on the dev queries
# (blind-dev and public-dev; docs/benchmarks.md): covering the query counts most, as wording varies most there.
SCORE_SHARE, QUERY_COVERAGE_SHARE, TITLE_COVERAGE_SHARE = 0.45, 1.2, 0.125
# Minimum match: hits scoring below this share of the best one are noise from a single common word (0.3 for short
# queries until query coverage weighed most; the dev queries then asked for the long queries' 0.15 everywhere).
MIN_SHARE = 0.15
EXACT_BONUS = 10.0
# A token in more than this share of documents (and more than so many) is looked up in titles and
# keywords only: walking its postings in every field is what makes Whoosh slow.
COMMON_SHARE, COMMON_POSTINGS = 0.05, 300
# A one-word query whose candidates fill the re-ranking pool (率, %, 满意度) is asked again for up to this many:
# the total and the facet counts are those of every match, not of the first pool. (Longer queries keep the
# pool: loading thousands of candidates for every name query cost 20× the latency at 10k documents.)
FULL_COUNT = 1000
# Pseudo-relevance feedback for pasted descriptions: when the best hits mostly share a value of
# the feedback facet (one department's project), the other hits with that value move up.
FEEDBACK_TOP, FEEDBACK_SHARE = 5, 0.5
# Share of the final score given to how close in meaning the query and the document are as wholes (the idf-weighted
# sums of their word vectors): a paraphrase in everyday speech shares few words but many meanings with its indicator.
MEANING_SHARE = 1.0
# Sentence meaning (search/meaning.py), asked only when no candidate holds every word typed (an exact name or
# a keyword needs no model, and skipping it keeps those queries fast) and the query is a question or a name, not a
# pasted description (its many words carry it; encoding it would cost 30 ms): a candidate this many standard
# deviations closer in meaning than the pool's mean gains SENTENCE_SHARE per deviation beyond it.
SENTENCE_SHARE, SENTENCE_FLOOR, SENTENCE_CHARS = 0.5, 1.0, 32


class RankingSettings:
    """What the ranker needs from the backend's configuration (the same options on every engine)."""

    def __init__(self, fields: Iterable[FieldSpec], analyzer: Analyzer, synonyms: Synonyms, candidates: int,
                 feedback_facets: dict[str, float], postings_budget: int | None,
                 features: frozenset[str] = FEATURES, thesaurus: Synonyms | None = None,
                 vectors: WordVectors | None = None, meaning: SentenceModel | None = None) -> None:
        self.features = frozenset(features)
        # Guessed expansions finance turned down, (typed word, term) normalised: RankedBackend.set_synonyms.
        self.rejected: frozenset[tuple[str, str]] = frozenset()
        self.meaning = meaning if "meaning" in self.features else None
        self.thesaurus = thesaurus
        self.vectors = vectors if "vectors" in self.features and vectors is not None and len(vectors) else None
        self.fields = tuple(fields)
        self.analyzer = analyzer
        self.synonyms = synonyms
        self.candidates = candidates
        self.feedback_facets = dict(feedback_facets)
        self.postings_budget = postings_budget
        self.groups: dict[str, float] = {}
        for spec in self.fields:
            self.groups[spec.index_name] = max(self.groups.get(spec.index_name, 0.0), spec.boost)
        title = next((f.index_name for f in self.fields if f.title), None)
        self.strong = self.groups[title] / 2 if title else max(self.groups.values(), default=0.0) / 2
        self.exact_fields = tuple(f.name for f in self.fields if f.exact)


class Ranker:
    """Runs ``query`` with ``settings`` against one ``reader`` (a consistent view of an index)."""

    def __init__(self, settings: RankingSettings, reader: Reader, query: SearchQuery) -> None:
        self.settings = settings
        self.reader = reader
        self.query = query
        self._frequencies: dict[str, dict[str, int]] = {}
        self._library_vectors: WordVectors | None = None

    def _library(self) -> WordVectors | None:
        """The word vectors of the index's own words (None when vectors are off)."""
        if self.settings.vectors is not None and self._library_vectors is None:
            self._library_vectors = self.reader.vocabulary().word_vectors(self.settings.vectors)
        return self._library_vectors

    def _similar(self, token: str) -> list[tuple[str, float]]:
        library = self._library()
        if library is None:
            return []
        return self.settings.vectors.nearest(token, library, SIMILAR_WORDS, SIMILAR_FLOOR)

    def _group_frequencies(self, token: str) -> dict[str, int]:
        if token not in self._frequencies:
            found = self.reader.group_frequencies([token]).get(token, {})
            self._frequencies[token] = {group: found.get(group, 0) for group in self.settings.groups}
        return self._frequencies[token]

    def _doc_frequency(self, token: str) -> int:
        return max(self._group_frequencies(token).values(), default=0)

    def _is_title_word(self, token: str) -> bool:
        groups = self.settings.groups
        return any(n and groups[g] >= self.settings.strong for g, n in self._group_frequencies(token).items())

    def run(self) -> SearchResults:
        query, reader, settings = self.query, self.reader, self.settings
        text = normalize(query.text)
        filters = facet_values(query.filters)
        excluded = tuple(query.exclude)
        plan = None
        scored: dict[str, tuple[float, Candidate]] = {}
        exact: set[str] = set()
        if not text:
            for candidate in reader.match(MatchQuery(filters=filters, exclude=excluded)):
                scored[candidate.key] = (1.0, candidate)
        else:
            # Frequencies of the typed tokens in one round trip (the planner asks token by token).
            self._frequencies.update({t: {g: f.get(g, 0) for g in settings.groups}
                                      for t, f in reader.group_frequencies(settings.analyzer.tokens(text)).items()})
            vocabulary = reader.vocabulary
            plan = plan_query(
                text, settings.analyzer, self._doc_frequency, reader.doc_count(), settings.synonyms,
                lambda: vocabulary().pinyin(), lambda: vocabulary().homophones(),
                self._is_title_word, lambda char: vocabulary().containing(char), settings.features,
                settings.thesaurus, self._similar, settings.rejected,
            )
            exact_hits = []
            if settings.exact_fields:
                exact_hits = reader.match(MatchQuery(exact=tuple((name, text) for name in settings.exact_fields),
                                                     filters=filters, exclude=excluded, limit=FULL_COUNT))
            exact = {candidate.key for candidate in exact_hits}
            # Exact titles outrank every other hit (EXACT_BONUS): when they alone fill the pool (one name in a
            # hundred departments), looking for looser matches to list after them is wasted work.
            clauses = self._clauses(plan, titles_only=bool(exact)) if len(exact) < settings.candidates else []
            if clauses:
                top_n = reader.match(MatchQuery(terms=tuple(clauses), filters=filters, exclude=excluded,
                                                limit=settings.candidates))
                if len(top_n) >= settings.candidates and len(plan.typed & plan.terms.keys()) <= 1:
                    top_n = reader.match(MatchQuery(terms=tuple(clauses), filters=filters, exclude=excluded,
                                                    limit=FULL_COUNT))
                top = max((c.score for c in top_n), default=1.0) or 1.0
                for candidate in top_n:
                    scored[candidate.key] = (candidate.score / top, candidate)
            for candidate in exact_hits:
                scored.setdefault(candidate.key, (1.0, candidate))
        ranked = []
        pool = [c for _, c in scored.values()]
        meanings = self._meanings(pool, plan) if plan is not None else {}
        meant = self._sentence_meanings(pool, plan) if plan is not None else {}
        for key, (share, candidate) in scored.items():
            if key in excluded:
                continue
            relevance, factor = self._relevance(share, candidate, plan, meanings.get(key, 0.0) + meant.get(key, 0.0))
            candidate.meant = key in meant
            bonus = EXACT_BONUS if key in exact else 0.0
            candidate.relevance = relevance + bonus
            ranked.append((relevance * factor + bonus, key, candidate))
        ranked.sort(key=lambda item: (-item[0], item[1]))
        long_query = plan is not None and len(plan.text) > SHORT_QUERY
        if long_query:
            ranked = self._feedback(ranked)
        if plan is not None and ranked:
            # Minimum match on relevance alone: a retired or boosted-down hit is lower, not gone.
            best = max((c.relevance for _, _, c in ranked if c.relevance < EXACT_BONUS), default=0.0)
            floor = MIN_SHARE * best
            # ... unless the document contains every word typed (信访 in a definition is still a match).
            ranked = [item for item in ranked if item[2].relevance >= floor or item[2].complete]
        return self._results(ranked, plan)

    def _clauses(self, plan: Plan, titles_only: bool) -> list[TermClause]:
        """Term clauses: every group a token occurs in, but only the strong groups (title, keywords) for
        common tokens or when the query is an exact title (cost grows with postings × clauses)."""
        groups = self.settings.groups
        strong = self.settings.strong
        common = max(COMMON_SHARE * self.reader.doc_count(), COMMON_POSTINGS)
        budget = self.settings.postings_budget or float("inf")
        clauses: list[TermClause] = []
        postings = 0
        # Most telling tokens first; stop when the posting lists to walk exceed the budget (Whoosh's cost
        # is per posting visited): the re-ranker still scores the candidates against the whole query.
        for token in sorted(plan.terms, key=lambda t: plan.terms[t] * plan.idf.get(t, 0.0), reverse=True):
            frequencies = self._group_frequencies(token)
            narrow = titles_only or max(frequencies.values(), default=0) > common
            chosen = [g for g, boost in groups.items() if frequencies[g] and (not narrow or boost >= strong)]
            cost = sum(frequencies[g] for g in chosen)
            if clauses and postings + cost > budget:
                continue
            postings += cost
            clauses += [TermClause(token, g, groups[g] * plan.terms[token]) for g in chosen]
        return clauses

    def _feedback(self, ranked):
        """Boost the hits sharing the dominant value of each feedback facet among the best hits."""
        if len(ranked) < 2:
            return ranked
        for facet, boost in self.settings.feedback_facets.items():
            weights: Counter = Counter()
            for final, _, candidate in ranked[:FEEDBACK_TOP]:
                weights[candidate.facets.get(facet, "")] += final
            value, weight = weights.most_common(1)[0]
            if not value or weight < FEEDBACK_SHARE * sum(weights.values()):
                continue
            ranked = [(f * boost if c.facets.get(facet, "") == value else f, k, c) for f, k, c in ranked]
            for _, _, candidate in ranked:
                if candidate.facets.get(facet, "") == value:
                    candidate.relevance *= boost
        return sorted(ranked, key=lambda item: (-item[0], item[1]))

    def _relevance(self, share: float, candidate: Candidate, plan: Plan | None,
                   meaning: float = 0.0) -> tuple[float, float]:
        """(how well the document matches, the static factor: rank × facet boosts)."""
        factor = candidate.rank
        for facet, values in self.query.boosts.items():
            factor *= values.get(candidate.facets.get(facet, ""), 1.0)
        if plan is None:
            return 1.0, factor
        doc_tokens = candidate.tokens
        matched = {t: w for t, w in plan.terms.items() if t in doc_tokens}
        typed = [t for t in plan.typed if t in plan.idf]
        query_cov = min(1.0, coverage(typed, matched, plan.idf) if typed else 0.0)
        candidate.complete = bool(typed) and all(t in doc_tokens for t in typed)
        title_cov = coverage(candidate.title_tokens, dict(plan.terms), plan.idf) if candidate.title_tokens else 0.0
        return (SCORE_SHARE * share + QUERY_COVERAGE_SHARE * query_cov + TITLE_COVERAGE_SHARE * title_cov
                + MEANING_SHARE * meaning), factor

    def _meanings(self, candidates: list[Candidate], plan: Plan) -> dict[str, float]:
        """How close in meaning each candidate is to the query: the cosine of the idf-weighted sums of their
        word vectors (a word no document has weighs most: it is what the query is about in words the library
        does not use). Document vectors are kept per index version, so a hit costs one dot product."""
        library = self._library()
        if library is None or not candidates:
            return {}
        vocabulary = self.reader.vocabulary()
        total = self.reader.doc_count()

        def idf(token: str) -> float:
            return math.log(1 + total / (vocabulary.frequencies.get(token, 0) or 1))

        vectors = self.settings.vectors
        query = vectors.text_vector({t: idf(t) for t in plan.typed if len(t) > 1})
        if query is None:
            return {}
        cache = vocabulary.document_vectors
        for candidate in candidates:
            if candidate.key not in cache:
                cache[candidate.key] = vectors.text_vector({t: idf(t) for t in candidate.tokens if len(t) > 1})
        return {c.key: max(0.0, float(query @ cache[c.key])) for c in candidates if cache[c.key] is not None}

    def _sentence_meanings(self, candidates: list[Candidate], plan: Plan) -> dict[str, float]:
        """Candidate key → bonus for being closer in meaning to the whole query than the rest of the pool (only
        those that gain): asked when the words alone found no candidate holding every typed word."""
        model = self.settings.meaning
        with_vectors = [c for c in candidates if c.meaning]
        if model is None or len(with_vectors) < 3 or not plan.typed or len(plan.text) > SENTENCE_CHARS:
            return {}
        if any(plan.typed <= c.tokens for c in candidates):
            return {}
        bonus = pool_bonus(model.query(plan.text), [unpack(c.meaning) for c in with_vectors], SENTENCE_SHARE,
                           SENTENCE_FLOOR)
        return {c.key: b for c, b in zip(with_vectors, bonus) if b > 0}

    @staticmethod
    def _reasons(candidate: Candidate, plan: Plan | None) -> tuple[Reason, ...]:
        """The query's terms found in the hit, most telling first, each with how it entered the query; last, when
        the sentence model moved it up, that its meaning is close to the whole query."""
        if plan is None:
            return ()
        found = [t for t in plan.terms if t in candidate.tokens]
        found.sort(key=lambda t: (plan.origins.get(t, (TYPED,))[0] != TYPED, -plan.terms[t] * plan.idf.get(t, 0.0)))
        reasons = tuple(Reason(t, *plan.origins.get(t, (TYPED, t))) for t in found)
        return (Reason("", MEANT, plan.text), *reasons) if candidate.meant else reasons

    def _results(self, ranked, plan: Plan | None) -> SearchResults:
        query = self.query
        counts: dict[str, Counter] = {name: Counter() for name in query.facets}
        for _, _, candidate in ranked:
            for name in query.facets:
                value = candidate.facets.get(name)
                if value:
                    counts[name][value] += 1
        terms = set(plan.terms) if plan else set()
        page = []
        for final, key, candidate in ranked[query.offset:query.offset + query.limit]:
            highlights = {name: highlight(value, terms) for name, value in candidate.highlights.items() if terms}
            page.append(Hit(key=key, score=final, highlights=highlights, reasons=self._reasons(candidate, plan)))
        suggestion = None
        if plan is not None and plan.corrected and plan.corrected != plan.text:
            suggestion = plan.corrected
        elif plan is not None and not ranked:
            titles = self.reader.vocabulary().titles
            close = difflib.get_close_matches(plan.text, titles[:20000], n=1, cutoff=0.5)
            suggestion = close[0] if close else None
        return SearchResults(
            total=len(ranked),
            hits=page,
            facet_counts={name: dict(counter.most_common()) for name, counter in counts.items()},
            suggestion=suggestion,
        )

"""One search on a Whoosh searcher: plan, candidates, re-rank, minimum match, facets, highlights, page."""
from __future__ import annotations

import difflib
import heapq
from collections import Counter

from whoosh.query import And, Every, Or, Term
from whoosh.searching import Searcher

from search.analysis import highlight, normalize
from search.base import Hit, SearchQuery, SearchResults
from search.planner import SHORT_QUERY, coverage, plan_query

# Shares of the final score: the engine's BM25F score, how much of the query the document covers,
# and how much of the document's title the query covers (a pasted description naming the indicator).
SCORE_SHARE, QUERY_COVERAGE_SHARE, TITLE_COVERAGE_SHARE = 0.45, 0.30, 0.25
# Minimum match: hits scoring below this share of the best one are noise from a single common word.
MIN_SHARE, MIN_SHARE_LONG = 0.3, 0.15
EXACT_BONUS = 10.0
# A token in more than this share of documents (and more than so many) is looked up in titles and
# keywords only: walking its postings in every field is what makes Whoosh slow.
COMMON_SHARE, COMMON_POSTINGS = 0.05, 300
# Pseudo-relevance feedback for pasted descriptions: when the best hits mostly share a value of
# the feedback facet (one department's project), the other hits with that value move up.
FEEDBACK_TOP, FEEDBACK_SHARE = 5, 0.5


class Ranker:
    """Runs ``query`` against ``backend``'s ``searcher`` (see WhooshBackend.search)."""

    def __init__(self, backend, searcher, query: SearchQuery) -> None:
        self.backend = backend
        self.searcher = searcher
        self.query = query

    def _group_frequencies(self, token: str) -> dict[str, int]:
        cache = self.__dict__.setdefault("_frequencies", {})
        if token not in cache:
            cache[token] = {group: self.searcher.doc_frequency(f"t_{group}", token) for group in self.backend._groups}
        return cache[token]

    def _doc_frequency(self, token: str) -> int:
        return max(self._group_frequencies(token).values())

    def _is_title_word(self, token: str) -> bool:
        title = next((f.index_name for f in self.backend.fields if f.title), None)
        strong = self.backend._groups[title] / 2 if title else max(self.backend._groups.values()) / 2
        return any(n and self.backend._groups[g] >= strong for g, n in self._group_frequencies(token).items())

    def run(self) -> SearchResults:
        query, searcher = self.query, self.searcher
        text = normalize(query.text)
        restrict = facet_filter(query.filters)
        mask = Or([Term("key", k) for k in query.exclude]) if query.exclude else None
        plan = None
        scored: dict[int, float] = {}
        if not text:
            for docnum in searcher.docs_for_query(restrict or Every()):
                scored[docnum] = 1.0
        else:
            plan = plan_query(
                # doc_count_all: Whoosh's term statistics still count replaced documents until segments
                # merge, so compare them with the count that includes those too.
                text, self.backend.analyzer, self._doc_frequency, searcher.doc_count_all(), self.backend.synonyms,
                lambda: self.backend._pinyin(searcher), lambda: self.backend._homophones(searcher),
                self._is_title_word, lambda char: self.backend._containing(searcher, char),
            )
            exact = self._exact_docnums(text, restrict, mask)
            leaves = self._leaves(plan, titles_only=bool(exact))
            if leaves:
                top_n = self._candidates(leaves, restrict, mask)
                top = top_n[0][0] if top_n else 1.0
                for score, docnum in top_n:
                    scored[docnum] = score / (top or 1.0)
        exact = self._exact_docnums(text, restrict, mask) if text else set()
        for docnum in exact:
            scored.setdefault(docnum, 1.0)
        excluded = set(query.exclude)
        ranked = []
        for docnum, share in scored.items():
            stored = searcher.stored_fields(docnum)
            if stored["key"] in excluded:
                continue
            data = stored["data"]
            relevance, factor = self._relevance(share, data, plan)
            bonus = EXACT_BONUS if docnum in exact else 0.0
            data["_relevance"] = relevance + bonus
            ranked.append((relevance * factor + bonus, stored["key"], data))
        ranked.sort(key=lambda item: (-item[0], item[1]))
        long_query = plan is not None and len(plan.text) > SHORT_QUERY
        if long_query:
            ranked = self._feedback(ranked)
        if plan is not None and ranked:
            # Minimum match on relevance alone: a retired or boosted-down hit is lower, not gone.
            best = max((d["_relevance"] for _, _, d in ranked if d["_relevance"] < EXACT_BONUS), default=0.0)
            floor = (MIN_SHARE_LONG if long_query else MIN_SHARE) * best
            # ... unless the document contains every word typed (信访 in a definition is still a match).
            ranked = [item for item in ranked if item[2]["_relevance"] >= floor or item[2].get("_complete")]
        return self._results(ranked, plan)

    def _candidates(self, leaves, restrict, mask) -> list[tuple[float, int]]:
        """The best-scoring (score, docnum) pairs for an OR of ``leaves``.

        Each posting list is walked once, flat, adding its BM25F score: Whoosh's own OR builds a tree of
        union matchers whose per-posting, per-level Python calls cost 3–10× more (search-performance.md).
        """
        searcher = self.searcher
        if not isinstance(searcher, Searcher):  # another engine answering Whoosh's searcher calls
            results = searcher.search(Or(leaves), limit=self.backend.candidates, filter=restrict, mask=mask)
            return [(hit.score, hit.docnum) for hit in results]
        allowed = set(searcher.docs_for_query(restrict)) if restrict is not None else None
        banned = set(searcher.docs_for_query(mask)) if mask is not None else set()
        scores: dict[int, float] = {}
        get = scores.get
        # A single very common word (满意度 in 20 % of a province's library) would walk every posting:
        # stop each list at the budget; its documents are alike and the re-ranker orders them.
        cap = getattr(self.backend, "postings_budget", None) or float("inf")
        for leaf in leaves:
            matcher = leaf.matcher(searcher)
            walked = 0
            while matcher.is_active() and walked < cap:
                docnum = matcher.id()
                scores[docnum] = get(docnum, 0.0) + matcher.score()
                matcher.next()
                walked += 1
        if allowed is not None or banned:
            scores = {d: v for d, v in scores.items() if (allowed is None or d in allowed) and d not in banned}
        return heapq.nlargest(self.backend.candidates, ((v, d) for d, v in scores.items()))

    def _leaves(self, plan, titles_only: bool) -> list:
        """Term leaves: every group a token occurs in, but only the strong groups (title, keywords) for
        common tokens or when the query is an exact title (cost grows with postings × leaves)."""
        groups = self.backend._groups
        title = next((f.index_name for f in self.backend.fields if f.title), None)
        strong = groups[title] / 2 if title else max(groups.values()) / 2
        common = max(COMMON_SHARE * self.searcher.doc_count_all(), COMMON_POSTINGS)
        budget = getattr(self.backend, "postings_budget", None) or float("inf")
        leaves, postings = [], 0
        # Most telling tokens first; stop when the posting lists to walk exceed the budget (Whoosh's cost
        # is per posting visited): the re-ranker still scores the candidates against the whole query.
        for token in sorted(plan.terms, key=lambda t: plan.terms[t] * plan.idf.get(t, 0.0), reverse=True):
            frequencies = self._group_frequencies(token)
            narrow = titles_only or max(frequencies.values()) > common
            chosen = [g for g, boost in groups.items() if frequencies[g] and (not narrow or boost >= strong)]
            cost = sum(frequencies[g] for g in chosen)
            if leaves and postings + cost > budget:
                continue
            postings += cost
            leaves += [Term(f"t_{g}", token, boost=groups[g] * plan.terms[token]) for g in chosen]
        return leaves

    def _feedback(self, ranked):
        """Boost the hits sharing the dominant value of each feedback facet among the best hits."""
        facets = getattr(self.backend, "feedback_facets", None) or {}
        if not facets and getattr(self.backend, "feedback_facet", None):  # the single-facet form of the option
            facets = {self.backend.feedback_facet: 1.3}
        if len(ranked) < 2:
            return ranked
        for facet, boost in facets.items():
            weights: Counter = Counter()
            for final, _, data in ranked[:FEEDBACK_TOP]:
                weights[data["facets"].get(facet, "")] += final
            value, weight = weights.most_common(1)[0]
            if not value or weight < FEEDBACK_SHARE * sum(weights.values()):
                continue
            ranked = [(f * boost if d["facets"].get(facet, "") == value else f, k, d) for f, k, d in ranked]
            for final, _, data in ranked:
                if data["facets"].get(facet, "") == value:
                    data["_relevance"] *= boost
        return sorted(ranked, key=lambda item: (-item[0], item[1]))

    def _exact_docnums(self, text: str, restrict, mask) -> set[int]:
        docnums: set[int] = set()
        for spec in self.backend.fields:
            if spec.exact:
                found = self.searcher.search(Term(f"x_{spec.name}", text), limit=50, filter=restrict, mask=mask)
                docnums.update(hit.docnum for hit in found)
        return docnums

    def _relevance(self, share: float, data: dict, plan) -> tuple[float, float]:
        """(how well the document matches, the static factor: rank × facet boosts)."""
        factor = data.get("rank", 1.0)
        for facet, values in self.query.boosts.items():
            factor *= values.get(data["facets"].get(facet, ""), 1.0)
        if plan is None:
            return 1.0, factor
        doc_tokens = set(data["ct"].split())
        matched = {t: w for t, w in plan.terms.items() if t in doc_tokens}
        typed = [t for t in plan.typed if t in plan.idf]
        query_cov = min(1.0, coverage(typed, matched, plan.idf) if typed else 0.0)
        data["_complete"] = bool(typed) and all(t in doc_tokens for t in typed)
        title_cov = coverage(data["tt"], {t: w for t, w in plan.terms.items()}, plan.idf) if data["tt"] else 0.0
        return SCORE_SHARE * share + QUERY_COVERAGE_SHARE * query_cov + TITLE_COVERAGE_SHARE * title_cov, factor

    def _results(self, ranked, plan) -> SearchResults:
        query = self.query
        counts: dict[str, Counter] = {name: Counter() for name in query.facets}
        for _, _, data in ranked:
            for name in query.facets:
                value = data["facets"].get(name)
                if value:
                    counts[name][value] += 1
        terms = set(plan.terms) if plan else set()
        page = []
        for final, key, data in ranked[query.offset:query.offset + query.limit]:
            highlights = {name: highlight(value, terms) for name, value in data["hl"].items() if terms}
            page.append(Hit(key=key, score=final, highlights=highlights))
        suggestion = None
        if plan is not None and plan.corrected and plan.corrected != plan.text:
            suggestion = plan.corrected
        elif plan is not None and not ranked:
            titles = self.backend._vocabulary(self.searcher)["titles"]
            close = difflib.get_close_matches(plan.text, titles[:20000], n=1, cutoff=0.5)
            suggestion = close[0] if close else None
        return SearchResults(
            total=len(ranked),
            hits=page,
            facet_counts={name: dict(counter.most_common()) for name, counter in counts.items()},
            suggestion=suggestion,
        )


def facet_filter(filters) -> object | None:
    """A Whoosh query for facet filters (a tuple value means any of them)."""
    parts = []
    for name, value in filters.items():
        values = value if isinstance(value, (tuple, list, set, frozenset)) else (value,)
        values = [str(v) for v in values if v not in (None, "")]
        if values:
            parts.append(Or([Term(f"f_{name}", v) for v in values]) if len(values) > 1 else Term(f"f_{name}", values[0]))
    return And(parts) if parts else None

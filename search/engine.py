"""What the full-text backends share: our analyzer, the ranking options, search and suggest over a
:class:`search.reader.Reader`. A backend only stores documents and compiles :class:`MatchQuery`."""
from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Iterable

from search.analysis import Analyzer, Synonyms, normalize
from search.base import BaseBackend, Document, FieldSpec, SearchQuery, SearchResults, UnknownOption
from search.meaning import SentenceModel
from search.planner import FEATURES
from search.reader import Reader
from search.ranking import Ranker, RankingSettings
from search.suggest import suggest_titles
from search.vectors import WordVectors

# The options every ranked engine takes (search/ranking.py); NullBackend accepts them too, so one
# configuration works with any backend.
RANKING_OPTIONS = ("user_words", "synonyms", "thesaurus", "word_vectors", "meaning", "candidates", "feedback_facets",
                   "postings_budget", "disabled")


class RankedBackend(BaseBackend):
    """Options: ``user_words`` (extra dictionary words), ``synonyms`` (groups of equivalent terms),
    ``thesaurus`` (groups of a general thesaurus, expanded below the synonyms), ``word_vectors`` (a
    :class:`search.vectors.WordVectors`: words near in meaning), ``meaning`` (a :class:`search.meaning.SentenceModel`:
    candidates closer in meaning to the whole query move up; documents carry its vectors), ``candidates`` (how many
    hits are re-ranked), ``feedback_facets`` (facet → factor: the dominant value
    among the best hits of a long query is boosted), ``postings_budget`` (about how many postings one query
    may walk; bounds the latency of long queries on engines that walk postings, None: no bound),
    ``disabled`` (ranking features of search.planner.FEATURES to switch off, to measure each one).
    Any other option is an error (BaseBackend)."""

    def __init__(self, fields: Iterable[FieldSpec] = (), *, user_words: Iterable[str] = (),
                 synonyms: Iterable[Iterable[str]] = (), thesaurus: Iterable[Iterable[str]] = (),
                 word_vectors: WordVectors | None = None, meaning: SentenceModel | None = None, candidates: int = 100,
                 feedback_facets: dict[str, float] | None = None, postings_budget: int | None = None,
                 disabled: Iterable[str] = (), **options) -> None:
        super().__init__(fields, **options)
        if not isinstance(feedback_facets or {}, dict):
            raise TypeError("检索选项 feedback_facets 应为 {分面: 系数}")
        self.analyzer = Analyzer(user_words)
        self.synonyms = Synonyms(synonyms)
        self.thesaurus = Synonyms(thesaurus)
        self.candidates = candidates
        self.feedback_facets = dict(feedback_facets or {})
        self.postings_budget = postings_budget
        unknown = set(disabled) - FEATURES
        if unknown:
            raise UnknownOption(f"没有这些检索特性可关闭：{', '.join(sorted(unknown))}（可选：{', '.join(sorted(FEATURES))}）")
        self.settings = RankingSettings(self.fields, self.analyzer, self.synonyms, candidates,
                                        self.feedback_facets, postings_budget, FEATURES - set(disabled), self.thesaurus,
                                        word_vectors, meaning)
        self.meaning = self.settings.meaning
        self._groups = self.settings.groups
        self._title = next((f.name for f in self.fields if f.title), None)

    def set_synonyms(self, groups: Iterable[Iterable[str]], rejected: Iterable[tuple[str, str]] = ()) -> None:
        """Replace the synonym groups, and the guessed ``(typed word, term)`` expansions turned down, while
        serving. The settings are swapped in one assignment: a search already running finishes with the old
        ones, the next one uses the new (nothing else caches them)."""
        settings = copy.copy(self.settings)
        settings.synonyms = Synonyms(groups)
        settings.rejected = frozenset((normalize(source), normalize(term)) for source, term in rejected)
        self.synonyms, self.settings = settings.synonyms, settings

    @abstractmethod
    def _reader(self) -> Reader | None:
        """A consistent view of the live index, or None when there is none yet."""

    def search(self, query: SearchQuery) -> SearchResults:
        reader = self._reader()
        if reader is None:
            return SearchResults()
        return Ranker(self.settings, reader, query).run()

    def statistics_drift(self, documents: Iterable[Document], sample: int = 200) -> list[str]:
        """Differences between the ranking statistics the index uses (document count, document frequency of
        the title words per field group) and those of ``documents`` (the source of truth), one line each.
        Stale statistics make an edited index rank unlike a fresh build even when every document is current."""
        reader = self._reader()
        if reader is None:
            return []
        documents = list(documents)
        problems = []
        if reader.doc_count() != len(documents):
            problems.append(f"检索排序统计的文档数为 {reader.doc_count()}，数据库中为 {len(documents)}。")
        expected: dict[str, dict[str, int]] = {}
        words: list[str] = []
        for document in documents:
            tokens_by_group: dict[str, set[str]] = {}
            for spec in self.fields:
                tokens_by_group.setdefault(spec.index_name, set()).update(
                    self.analyzer.tokens(str(document.text.get(spec.name, ""))))
            for group, tokens in tokens_by_group.items():
                for token in tokens:
                    expected.setdefault(token, {}).setdefault(group, 0)
                    expected[token][group] += 1
            if self._title and len(words) < sample:
                words += [t for t in self.analyzer.tokens(str(document.text.get(self._title, ""))) if t not in words]
        actual = reader.group_frequencies(words[:sample])
        for word in words[:sample]:
            for group in self._groups:
                want, have = expected.get(word, {}).get(group, 0), actual.get(word, {}).get(group, 0)
                if want != have:
                    problems.append(f"检索排序统计中“{word}”在 {group} 中的文档数为 {have}，应为 {want}。")
        return problems

    def suggest(self, prefix: str, limit: int = 8) -> list[str]:
        reader = self._reader()
        if reader is None or not self._title:
            return []
        vocabulary = reader.vocabulary()
        titles = suggest_titles(normalize(prefix), vocabulary.titles, vocabulary.pinyin(), limit)
        keys: list[str] = []
        for title in titles:
            for key in reader.keys_for_title(title):
                if key not in keys:
                    keys.append(key)
        return keys[:limit]


__all__ = ["RANKING_OPTIONS", "RankedBackend"]

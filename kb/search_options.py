"""The search backend's options: the library's dictionary, synonyms, general thesaurus, word vectors and sentence
model, read from ``kb/indicators/`` (the same options for every backend, kb.indexing builds the documents)."""
from __future__ import annotations

import functools
import logging
from pathlib import Path

from search.meaning import SentenceModel, unavailable
from search.vectors import WordVectors


def read_thesaurus(path) -> list[list[str]]:
    """The general thesaurus's groups (one tab-separated line each, ``#`` comments), [] when absent."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


@functools.lru_cache(maxsize=2)
def word_vectors(path: Path) -> WordVectors | None:
    """The word vectors at ``path``, loaded once per process (5 MB, read-only), or None without the file."""
    return WordVectors.load(path) if path.exists() else None


@functools.cache
def sentence_model() -> SentenceModel | None:
    """One sentence model per process: every backend of the process shares it (and its query cache); None, with a
    warning in the log, where it cannot run (search then ranks by words only; `kb check-deploy` says why)."""
    reason = unavailable()
    if reason:
        logging.getLogger(__name__).warning("检索不使用整句意思排序：%s。", reason)
        return None
    return SentenceModel()


def search_options(meaning: bool = False) -> dict:
    """Backend options from the search data in ``kb/indicators/``: dictionary words, synonym groups, the
    general thesaurus (scripts/build_thesaurus.py) and word vectors (scripts/build_wordvectors.py). The synonyms
    are the seed: once finance's groups are in the database, :func:`settle` swaps those in (kb/live_synonyms.py).
    ``meaning``: with the sentence model (search/meaning.py; the application's SEARCH_MEANING setting)."""
    import yaml

    from kb.vocab import REFERENCE_DIR

    def read(name: str) -> dict:
        path = REFERENCE_DIR / name
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {} if path.exists() else {}

    return {
        "user_words": [str(w) for w in read("dictionary.yaml").get("words", [])],
        "synonyms": [[str(t) for t in group] for group in read("synonyms.yaml").get("groups", [])],
        "thesaurus": read_thesaurus(REFERENCE_DIR / "thesaurus.tsv"),
        "word_vectors": word_vectors(REFERENCE_DIR / "wordvectors.npz"),
        "meaning": sentence_model() if meaning else None,
        # A pasted project description belongs to one department: its other indicators fit too.
        "feedback_facets": {"project": 1.5, "department": 1.2},
    }

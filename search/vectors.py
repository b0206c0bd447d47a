"""Word vectors: which of the library's words mean about the same as a word the user typed.

A thesaurus only knows the groups someone wrote; vectors learned from a large corpus also place everyday
words near the official ones (看病 → 就医, 修房子 → 修缮) for words no list was written for. The data is a plain
numpy file (scripts/build_wordvectors.py): words, int8 vectors and one scale per word.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np


class WordVectors:
    """Unit vectors of words; cosine similarity is a dot product."""

    def __init__(self, words: Iterable[str], matrix: np.ndarray) -> None:
        self.words = list(words)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.matrix = (matrix / np.maximum(norms, 1e-9)).astype(np.float32)
        self.index = {word: row for row, word in enumerate(self.words)}

    @classmethod
    def load(cls, path: Path) -> WordVectors:
        """Vectors written by scripts/build_wordvectors.py (no pickle: the file cannot run code)."""
        with np.load(path, allow_pickle=False) as data:
            matrix = data["vectors"].astype(np.float32) * data["scales"][:, None]
            return cls(data["words"].tolist(), matrix)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __len__(self) -> int:
        return len(self.words)

    def restricted(self, words: Iterable[str]) -> WordVectors:
        """The vectors of those of ``words`` that have one (the library's own vocabulary, say)."""
        rows = [self.index[w] for w in dict.fromkeys(words) if w in self.index]
        return WordVectors([self.words[r] for r in rows], self.matrix[rows])

    def similarity(self, first: str, second: str) -> float:
        """Cosine similarity of two words, 0.0 when either has no vector."""
        if first not in self.index or second not in self.index:
            return 0.0
        return float(self.matrix[self.index[first]] @ self.matrix[self.index[second]])

    def nearest(self, word: str, others: WordVectors, limit: int, floor: float) -> list[tuple[str, float]]:
        """Up to ``limit`` words of ``others`` nearest to ``word`` with similarity ≥ ``floor``, best first."""
        if word not in self.index or not len(others):
            return []
        scores = others.matrix @ self.matrix[self.index[word]]
        best = np.argsort(-scores)[: limit + 1]
        return [(others.words[i], float(scores[i])) for i in best
                if scores[i] >= floor and others.words[i] != word][:limit]

    def text_vector(self, weights: Mapping[str, float]) -> np.ndarray | None:
        """The unit vector of a text: its words' vectors summed with ``weights`` (word → weight), or None
        when no word has a vector."""
        rows = [(self.index[w], weight) for w, weight in weights.items() if w in self.index and weight > 0]
        if not rows:
            return None
        total = np.asarray([weight for _, weight in rows], dtype=np.float32) @ self.matrix[[r for r, _ in rows]]
        norm = float(np.linalg.norm(total))
        return total / norm if norm else None

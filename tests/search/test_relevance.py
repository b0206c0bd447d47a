"""Relevance is gated on the dev half of the public judged queries (../shared/eval/public_queries.yaml,
or ``$KB_SHARED_DIR/eval/…``) and on the dev half of the blind set (departments 101–104), run through the real
search path on each engine: nDCG@10 must not drop below the floors. The test halves are reported by
benchmarks/relevance.py, never gated here (a floor on them would invite tuning on them)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from tests.conftest import POSTGRES_URL

# Measured 0.973 (Whoosh) / 0.974 (PostgreSQL) on the dev half when the split was made.
DEV_NDCG_FLOOR = 0.95
# Measured 0.834 (Whoosh) on the blind dev half with word vectors, 0.776 without them (2026-12-05); 0.889 with the
# sentence model too, paraphrases 0.725 → 0.845 (2026-12-06): the floors fail when the model stops ranking.
# 0.920 / 0.865 with categories named without 指标 and query coverage weighing most (2026-12-06, later).
BLIND_DEV_NDCG_FLOOR = 0.90
BLIND_DEV_PARAPHRASE_FLOOR = 0.83


def _benchmark():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "relevance.py"
    spec = importlib.util.spec_from_file_location("relevance_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_split_is_the_documented_rule_and_covers_every_public_query() -> None:
    relevance = _benchmark()
    public = relevance.read_queries(relevance.PUBLIC_QUERIES)
    committed = yaml.safe_load(relevance.SPLIT_FILE.read_text(encoding="utf-8"))
    assert {half: sorted(qids) for half, qids in committed.items()} == relevance.split_public(public)
    assert not set(committed["dev"]) & set(committed["test"])
    assert set(committed["dev"]) | set(committed["test"]) == {item["qid"] for item in public}


def test_leave_one_department_out_removes_only_that_departments_words() -> None:
    relevance = _benchmark()
    texts = {"101": "受助学生满意度 学生资助", "102": "高血压患者规范管理率", "": "预算执行率 满意度"}
    options = {"user_words": ["学生资助", "满意度", "高血压"],
               "synonyms": [["学生资助", "助学"], ["满意度", "满意率"], ["看病", "就医"]]}
    reduced = relevance.department_resources(texts, options, "101")
    assert reduced["user_words"] == ["满意度", "高血压"]  # 满意度 is also in the common indicators
    assert reduced["synonyms"] == [["满意度", "满意率"], ["看病", "就医"]]


@pytest.mark.parametrize("engine", ["whoosh", "postgres"])
def test_dev_half_ndcg_stays_above_the_floor(engine: str) -> None:
    if engine == "postgres" and not POSTGRES_URL:
        pytest.skip("the PostgreSQL backend needs KB_TEST_DATABASE_URL")
    relevance = _benchmark()
    queries = relevance.query_sets()["public-dev"]
    by_type, _ = relevance.evaluate(queries, engine, POSTGRES_URL)
    ndcg, recall, mrr = relevance.overall(by_type)
    assert sum(len(rows) for rows in by_type.values()) == len(queries) + sum(
        1 for q in queries if q.get("department_code"))  # every judged query ran
    assert ndcg >= DEV_NDCG_FLOOR, f"nDCG@10 {ndcg:.3f} < {DEV_NDCG_FLOOR}"
    assert recall >= 0.95 and mrr >= 0.95


@pytest.mark.parametrize("engine", ["whoosh", "postgres"])
def test_blind_dev_half_ndcg_stays_above_the_floor(engine: str) -> None:
    if engine == "postgres" and not POSTGRES_URL:
        pytest.skip("the PostgreSQL backend needs KB_TEST_DATABASE_URL")
    relevance = _benchmark()
    by_type, _ = relevance.evaluate(relevance.query_sets()["blind-dev"], engine, POSTGRES_URL)
    ndcg = relevance.overall(by_type)[0]
    assert ndcg >= BLIND_DEV_NDCG_FLOOR, f"nDCG@10 {ndcg:.3f} < {BLIND_DEV_NDCG_FLOOR}"
    paraphrase = relevance.overall({"paraphrase": by_type["paraphrase"]})[0]
    assert paraphrase >= BLIND_DEV_PARAPHRASE_FLOOR, f"paraphrase nDCG@10 {paraphrase:.3f} < {BLIND_DEV_PARAPHRASE_FLOOR}"

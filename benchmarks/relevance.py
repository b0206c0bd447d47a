"""Search relevance on the public judged queries: nDCG@10, recall@10 and MRR per query type.

    .venv/bin/python benchmarks/relevance.py [--queries ../shared/eval/public_queries.yaml] [--verbose]
        [--backend whoosh|postgres] [--dsn postgresql://…]

Loads the YAML seed into a throwaway SQLite database, builds a search index with the chosen engine
(Whoosh in a temporary folder, or throwaway PostgreSQL tables) and runs every query through
``kb.searching.search_indicators``; department_intent queries run twice, without and with their
department filter. :func:`evaluate` is what tests/search/test_relevance.py gates on.
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb import SEED_DIR  # noqa: E402
from kb.db import create_schema, make_engine, make_session_factory  # noqa: E402
from kb.indexing import INDICATOR_FIELDS, rebuild_index, search_options  # noqa: E402
from kb.searching import search_indicators  # noqa: E402
from kb.services.audit import Actor  # noqa: E402
from kb.services.library import load_library, parse_library  # noqa: E402
from search import BaseBackend, load_backend  # noqa: E402

DEFAULT_QUERIES = ROOT.parent / "shared" / "eval" / "public_queries.yaml"
K = 10


def dcg(gains: list[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def score(ranked: list[str], relevant: dict[str, int]) -> tuple[float, float, float]:
    """(nDCG@10, recall@10 of grade-2 items, reciprocal rank of the first grade-2 item)."""
    gains = [2 ** relevant.get(code, 0) - 1 for code in ranked[:K]]
    ideal = sorted((2 ** g - 1 for g in relevant.values()), reverse=True)[:K]
    ndcg = dcg(gains) / dcg(ideal) if ideal else 0.0
    perfect = {code for code, grade in relevant.items() if grade == 2}
    recall = len(perfect & set(ranked[:K])) / len(perfect) if perfect else 0.0
    rr = next((1 / (i + 1) for i, code in enumerate(ranked) if code in perfect), 0.0)
    return ndcg, recall, rr


def make_backend(name: str, workdir: Path, dsn: str | None = None) -> BaseBackend:
    """The engine to measure, with the application's options (kb.indexing.search_options)."""
    if name == "postgres":
        import uuid

        return load_backend("search.postgres_backend.PostgresBackend", fields=INDICATOR_FIELDS, dsn=dsn,
                            table=f"relevance_{uuid.uuid4().hex[:10]}", temporary=True, **search_options())
    return load_backend("search.whoosh_backend.WhooshBackend", fields=INDICATOR_FIELDS, index_dir=workdir / "index",
                        **search_options())


def evaluate(queries: list[dict], backend_name: str = "whoosh", dsn: str | None = None,
             verbose: bool = False) -> tuple[dict[str, list[tuple[float, float, float]]], float]:
    """Metrics per query type, and the index build time in seconds."""
    by_type: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/kb.sqlite3")
        create_schema(engine)
        sessions = make_session_factory(engine)
        with sessions() as session:
            load_library(session, Actor.system("评测"), parse_library(session, [
                SEED_DIR / "departments", SEED_DIR / "indicators" / "common.yaml"]))
            session.commit()
            backend = make_backend(backend_name, Path(tmp), dsn)
            try:
                started = time.perf_counter()
                rebuild_index(session, backend)
                session.commit()
                build = time.perf_counter() - started
                for item in queries:
                    runs = [("", None)]
                    if item.get("department_code"):
                        runs.append(("+部门", item["department_code"]))
                    for suffix, department in runs:
                        result = search_indicators(session, backend, item["query"],
                                                   filters={"department": department}, limit=K)
                        ranked = [hit["code"] for hit in result["hits"]]
                        metrics = score(ranked, item["relevant"])
                        by_type[item["type"] + suffix].append(metrics)
                        if verbose and metrics[0] < 0.9:
                            print(f"{item['qid']}{suffix} {metrics[0]:.2f} {item['query']}\n    got {ranked}\n"
                                  f"    want {item['relevant']}")
            finally:
                backend.close()
        engine.dispose()
    return by_type, build


def overall(by_type: dict[str, list[tuple[float, float, float]]]) -> tuple[float, float, float]:
    everything = [row for rows in by_type.values() for row in rows]
    return tuple(sum(col) / len(everything) for col in zip(*everything))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--verbose", "-v", action="store_true", help="print every query below 0.9 nDCG")
    parser.add_argument("--backend", choices=("whoosh", "postgres"), default="whoosh")
    parser.add_argument("--dsn", help="PostgreSQL URL for --backend postgres")
    args = parser.parse_args()
    queries = yaml.safe_load(args.queries.read_text(encoding="utf-8"))["queries"]
    by_type, build = evaluate(queries, args.backend, args.dsn, args.verbose)
    print(f"{args.backend} index build: {build:.2f} s\n")
    print(f"{'type':<26}{'n':>4}{'nDCG@10':>10}{'recall@10':>11}{'MRR':>8}")
    for kind, rows in by_type.items():
        means = [sum(col) / len(rows) for col in zip(*rows)]
        print(f"{kind:<26}{len(rows):>4}{means[0]:>10.3f}{means[1]:>11.3f}{means[2]:>8.3f}")
    means = overall(by_type)
    count = sum(len(rows) for rows in by_type.values())
    print(f"{'overall':<26}{count:>4}{means[0]:>10.3f}{means[1]:>11.3f}{means[2]:>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

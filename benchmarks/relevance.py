"""Search relevance that cannot be overfit: nDCG@10, recall@10 and MRR per query type and query set.

    .venv/bin/python benchmarks/relevance.py            # every figure, Whoosh and (if reachable) PostgreSQL
        [--backend whoosh|postgres|both] [--dsn postgresql://…] [--without FEATURE …] [--verbose]
        [--sets public-dev,public-test,blind,lodo]

Query sets:
- ``public-dev`` / ``public-test``: the public judged queries (``$KB_SHARED_DIR/eval/public_queries.yaml``,
  default ``../shared`` next to the repository), split by qid in ``benchmarks/queries/public_split.yaml``
  (stratified by type, deterministic: :func:`split_public`). Tune on dev; test is reported only.
- ``blind``: ``benchmarks/queries/pilot_blind.yaml``, written by someone who never saw the engine. Its
  queries of departments 101–104 (``blind-dev``) may be read while tuning since 2026-12-05; those of 105–108
  (``blind-test``) are reported only. Both halves are printed after the blind table.
- ``lodo`` (leave one department out): each pilot department's blind queries, scored on an index whose
  hand-written resources *from that department* are removed (:func:`department_resources`).

Loads the YAML seed into a throwaway SQLite database, builds an index with the chosen engine (Whoosh in a
temporary folder, or throwaway PostgreSQL tables) and runs every query through
``kb.searching.search_indicators``; department_intent queries run twice, without and with their
department filter. :func:`evaluate` is what tests/search/test_relevance.py gates on.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
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

SHARED_DIR = Path(os.environ.get("KB_SHARED_DIR") or ROOT.parent / "shared")
PUBLIC_QUERIES = SHARED_DIR / "eval" / "public_queries.yaml"
QUERY_DIR = ROOT / "benchmarks" / "queries"
SPLIT_FILE = QUERY_DIR / "public_split.yaml"
BLIND_QUERIES = QUERY_DIR / "pilot_blind.yaml"
# The blind queries of these departments may be read while tuning; the others are held out.
BLIND_DEV_DEPARTMENTS = ("101", "102", "103", "104")
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
K = 10
Metrics = dict[str, list[tuple[float, float, float]]]


def dcg(gains: list[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def score(ranked: list[str], relevant: dict[str, int]) -> tuple[float, float, float]:
    """(nDCG@10, recall@10 of the best-graded items, reciprocal rank of the first best-graded item)."""
    gains = [2 ** relevant.get(code, 0) - 1 for code in ranked[:K]]
    ideal = sorted((2 ** g - 1 for g in relevant.values()), reverse=True)[:K]
    ndcg = dcg(gains) / dcg(ideal) if ideal else 0.0
    # The public file grades 0–2, the blind one 0–3: "perfect" is the best grade the query has.
    best = max(relevant.values(), default=0)
    perfect = {code for code, grade in relevant.items() if grade == best and grade >= 2}
    recall = len(perfect & set(ranked[:K])) / len(perfect) if perfect else 0.0
    rr = next((1 / (i + 1) for i, code in enumerate(ranked) if code in perfect), 0.0)
    return ndcg, recall, rr


# ---- query sets ---------------------------------------------------------------------------------
def read_queries(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["queries"]


def split_public(queries: list[dict]) -> dict[str, list[str]]:
    """Dev and test halves: within each type, qids ordered by a hash of the qid, alternately dev and test
    (stratified, deterministic, independent of the file's order)."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for item in queries:
        by_type[item["type"]].append(item["qid"])
    halves: dict[str, list[str]] = {"dev": [], "test": []}
    for kind in sorted(by_type):
        ordered = sorted(by_type[kind], key=lambda qid: hashlib.sha1(qid.encode()).hexdigest())
        for i, qid in enumerate(ordered):
            halves["dev" if i % 2 == 0 else "test"].append(qid)
    return {half: sorted(qids) for half, qids in halves.items()}


def query_sets(public: Path = PUBLIC_QUERIES) -> dict[str, list[dict]]:
    """``public-dev``, ``public-test`` (by the committed split), ``blind`` and its halves ``blind-dev`` and
    ``blind-test`` (by department, BLIND_DEV_DEPARTMENTS)."""
    split = yaml.safe_load(SPLIT_FILE.read_text(encoding="utf-8"))
    by_qid = {item["qid"]: item for item in read_queries(public)}
    missing = [qid for half in ("dev", "test") for qid in split[half] if qid not in by_qid]
    if missing:
        raise SystemExit(f"{SPLIT_FILE.name} 中的查询在 {public} 中不存在：{', '.join(missing)}")
    return {
        "public-dev": [by_qid[qid] for qid in split["dev"]],
        "public-test": [by_qid[qid] for qid in split["test"]],
        "blind": (blind := read_queries(BLIND_QUERIES)),
        "blind-dev": [item for item in blind if str(item["department"]) in BLIND_DEV_DEPARTMENTS],
        "blind-test": [item for item in blind if str(item["department"]) not in BLIND_DEV_DEPARTMENTS],
    }


# ---- running ------------------------------------------------------------------------------------
def make_backend(name: str, workdir: Path, dsn: str | None = None, options: dict | None = None) -> BaseBackend:
    """The engine to measure, with the application's options (kb.indexing.search_options) or ``options``."""
    options = search_options(meaning=True) if options is None else options
    if name == "postgres":
        return load_backend("search.postgres_backend.PostgresBackend", fields=INDICATOR_FIELDS, dsn=dsn,
                            table=f"relevance_{uuid.uuid4().hex[:10]}", temporary=True, **options)
    return load_backend("search.whoosh_backend.WhooshBackend", fields=INDICATOR_FIELDS,
                        index_dir=workdir / f"index-{uuid.uuid4().hex[:8]}", **options)


@contextmanager
def seeded_library() -> Iterator[tuple[object, Path]]:
    """A session on a throwaway SQLite database holding the seed, and a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/kb.sqlite3")
        create_schema(engine)
        with make_session_factory(engine)() as session:
            load_library(session, Actor.system("评测"), parse_library(session, [
                SEED_DIR / "departments", SEED_DIR / "indicators" / "common.yaml"]))
            session.commit()
            yield session, Path(tmp)
        engine.dispose()


def run_queries(session, backend: BaseBackend, queries: list[dict], verbose: bool = False,
                label: str = "") -> Metrics:
    by_type: Metrics = defaultdict(list)
    for item in queries:
        runs = [("", None)]
        if item.get("department_code"):
            runs.append(("+部门", item["department_code"]))
        for suffix, department in runs:
            result = search_indicators(session, backend, item["query"], filters={"department": department}, limit=K)
            ranked = [hit["code"] for hit in result["hits"]]
            metrics = score(ranked, item["relevant"])
            by_type[item["type"] + suffix].append(metrics)
            if verbose and metrics[0] < 0.9:
                print(f"{label}{item['qid']}{suffix} {metrics[0]:.2f} {item['query']}\n    got {ranked}\n"
                      f"    want {item['relevant']}")
    return by_type


def evaluate(queries: list[dict], backend_name: str = "whoosh", dsn: str | None = None,
             verbose: bool = False, options: dict | None = None) -> tuple[Metrics, float]:
    """Metrics per query type, and the index build time in seconds."""
    with seeded_library() as (session, tmp):
        backend = make_backend(backend_name, tmp, dsn, options)
        try:
            started = time.perf_counter()
            rebuild_index(session, backend)
            session.commit()
            build = time.perf_counter() - started
            return run_queries(session, backend, queries, verbose), build
        finally:
            backend.close()


# ---- leave one department out -------------------------------------------------------------------
def _department_texts(session) -> dict[str, str]:
    """Department code ("" for the common indicators) → all searchable text of its indicators."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from kb.models import Indicator

    texts: dict[str, list[str]] = defaultdict(list)
    for indicator in session.scalars(select(Indicator).options(selectinload(Indicator.department))):
        code = indicator.department.code if indicator.department else ""
        texts[code] += [indicator.name, indicator.definition or "", indicator.formula or "",
                        *(indicator.keywords or ()), *(indicator.projects or ())]
    return {code: "\n".join(parts) for code, parts in texts.items()}


def department_resources(texts: dict[str, str], options: dict, department: str) -> dict:
    """``options`` without the hand-written resources that came from ``department``'s indicators.

    A dictionary word came from a department when it occurs in that department's indicators and in no
    other department's nor in the common indicators. A synonym group came from it when at least one of
    its terms occurs only there (the term was written for that department's wording): the whole group
    goes, since its other terms are the paraphrases the department's indicators were matched with.
    """
    own = texts.get(department, "")
    others = [text for code, text in texts.items() if code != department]

    def only_here(term: str) -> bool:
        return term in own and not any(term in text for text in others)

    reduced = dict(options)
    reduced["user_words"] = [w for w in options.get("user_words", []) if not only_here(w)]
    reduced["synonyms"] = [g for g in options.get("synonyms", []) if not any(only_here(t) for t in g)]
    return reduced


def lodo(session, tmp: Path, backend_name: str, dsn: str | None, blind: list[dict], options: dict,
         verbose: bool = False) -> tuple[dict[str, Metrics], dict[str, tuple[int, int]]]:
    """Per pilot department: its blind queries on an index without its resources; and what was removed."""
    texts = _department_texts(session)
    results: dict[str, Metrics] = {}
    removed: dict[str, tuple[int, int]] = {}
    for department in sorted({item["department"] for item in blind}):
        reduced = department_resources(texts, options, department)
        removed[department] = (len(options.get("user_words", [])) - len(reduced["user_words"]),
                               len(options.get("synonyms", [])) - len(reduced["synonyms"]))
        backend = make_backend(backend_name, tmp, dsn, reduced)
        try:
            rebuild_index(session, backend)
            session.commit()
            mine = [item for item in blind if item["department"] == department]
            results[department] = run_queries(session, backend, mine, verbose and department in BLIND_DEV_DEPARTMENTS,
                                             f"[LODO {department}] ")
        finally:
            backend.close()
    return results, removed


# ---- report -------------------------------------------------------------------------------------
def overall(by_type: Metrics) -> tuple[float, float, float]:
    everything = [row for rows in by_type.values() for row in rows]
    return tuple(sum(col) / len(everything) for col in zip(*everything)) if everything else (0.0, 0.0, 0.0)


def merge(parts: list[Metrics]) -> Metrics:
    merged: Metrics = defaultdict(list)
    for part in parts:
        for kind, rows in part.items():
            merged[kind] += rows
    return merged


def print_table(title: str, by_type: Metrics) -> None:
    print(f"\n{title}\n{'type':<26}{'n':>4}{'nDCG@10':>10}{'recall@10':>11}{'MRR':>8}")
    for kind in sorted(by_type):
        rows = by_type[kind]
        means = [sum(col) / len(rows) for col in zip(*rows)]
        print(f"{kind:<26}{len(rows):>4}{means[0]:>10.3f}{means[1]:>11.3f}{means[2]:>8.3f}")
    means = overall(by_type)
    count = sum(len(rows) for rows in by_type.values())
    print(f"{'overall':<26}{count:>4}{means[0]:>10.3f}{means[1]:>11.3f}{means[2]:>8.3f}")


def without(options: dict, features: list[str]) -> dict:
    """``options`` with the named ranking features switched off (for the ablation table)."""
    options = dict(options)
    for feature in features:
        if feature == "abbreviations":  # department words read off the names (kb/intent.py)
            import kb.intent

            kb.intent.ABBREVIATIONS = False
        elif feature in ("synonyms", "user_words", "thesaurus"):
            options[feature] = []
        else:
            options.setdefault("disabled", [])
            options["disabled"] = [*options["disabled"], feature]
    return options


def postgres_dsn(explicit: str | None) -> str | None:
    """The PostgreSQL to measure on, or None when none answers."""
    dsn = explicit or os.environ.get("KB_TEST_DATABASE_URL") or DEFAULT_DSN
    try:
        import psycopg

        from search.postgres_backend import _conninfo

        psycopg.connect(_conninfo(dsn), connect_timeout=3).close()
    except Exception as error:  # noqa: BLE001 — any failure means "not reachable": report and go on
        print(f"PostgreSQL 不可用（{dsn}）：{error}", file=sys.stderr)
        return None
    return dsn


def report(backend_name: str, dsn: str | None, sets: list[str], options: dict, verbose: bool) -> dict[str, float]:
    queries = query_sets()
    figures: dict[str, float] = {}
    with seeded_library() as (session, tmp):
        backend = make_backend(backend_name, tmp, dsn, options)
        try:
            started = time.perf_counter()
            rebuild_index(session, backend)
            session.commit()
            print(f"\n=== {backend_name}: index build {time.perf_counter() - started:.2f} s ===")
            for name in ("public-dev", "public-test"):
                if name in sets:
                    by_type = run_queries(session, backend, queries[name], verbose, f"[{name}] ")
                    print_table(name, by_type)
                    figures[name] = overall(by_type)[0]
            if "blind" in sets:
                # Only the dev half is printed query by query: the held-out half is never read.
                halves = {half: run_queries(session, backend, queries[half], verbose and half == "blind-dev",
                                            f"[{half}] ") for half in ("blind-dev", "blind-test")}
                by_type = merge(list(halves.values()))
                print_table("blind", by_type)
                figures["blind"] = overall(by_type)[0]
                for half, part in halves.items():
                    figures[half] = overall(part)[0]
                    paraphrase = overall({"p": part.get("paraphrase", [])})[0]
                    print(f"{half}: nDCG@10 {figures[half]:.3f}, paraphrase {paraphrase:.3f}")
        finally:
            backend.close()
        if "lodo" in sets:
            per_department, removed = lodo(session, tmp, backend_name, dsn, queries["blind"], options, verbose)
            print(f"\nlodo (blind queries of each department, its own resources removed)\n"
                  f"{'department':<12}{'n':>4}{'nDCG@10':>10}{'paraphrase':>12}  removed words/groups")
            for department, by_type in per_department.items():
                para = overall({"p": by_type.get("paraphrase", [])})[0]
                count = sum(len(rows) for rows in by_type.values())
                words, groups = removed[department]
                print(f"{department:<12}{count:>4}{overall(by_type)[0]:>10.3f}{para:>12.3f}  {words}/{groups}")
            merged = merge(list(per_department.values()))
            print_table("lodo overall", merged)
            figures["lodo"] = overall(merged)[0]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", "-v", action="store_true", help="print every query below 0.9 nDCG")
    parser.add_argument("--backend", choices=("whoosh", "postgres", "both"), default="both")
    parser.add_argument("--dsn", help="PostgreSQL URL (default: $KB_TEST_DATABASE_URL or 127.0.0.1 postgres)")
    parser.add_argument("--sets", default="public-dev,public-test,blind,lodo")
    parser.add_argument("--without", action="append", default=[],
                        help="switch a feature off: ngram, abbreviations, synonyms, user_words, thesaurus")
    args = parser.parse_args()
    sets = args.sets.split(",")
    options = without(search_options(meaning=True), args.without)
    backends = ["whoosh", "postgres"] if args.backend == "both" else [args.backend]
    summary = {}
    for name in backends:
        dsn = postgres_dsn(args.dsn) if name == "postgres" else None
        if name == "postgres" and dsn is None:
            continue
        summary[name] = report(name, dsn, sets, options, args.verbose)
    print("\nsummary nDCG@10: " + "; ".join(
        f"{name} " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()) for name, figures in summary.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

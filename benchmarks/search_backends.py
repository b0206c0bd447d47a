"""Whoosh vs the PostgreSQL full-text backend on the same documents and queries (docs/scaling.md).

    .venv/bin/python benchmarks/search_backends.py --sizes 10000 100000 --dsn postgresql://postgres@127.0.0.1/kb_bench

The corpus is the seed library (kb/) multiplied into N documents: every copy keeps the seed's
texts and gets its own code, a county name in front of the department, and one of a few
qualifiers in the name, so term statistics stay realistic (repeated boilerplate, Zipf-like names).
Queries: exact names, 2–3 keywords, pasted project descriptions and single words from the seed.
Reported: build time, query p50/p95 per class (warm, after 20 warm-up queries), update → searchable
latency, and the share of exact-name queries whose document is in the top 10.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COUNTIES = ["襄垣县", "屯留区", "潞城区", "黎城县", "平顺县", "壶关县", "长子县", "武乡县", "沁县", "沁源县"]
QUALIFIERS = ["", "农村", "城区", "全县", "重点"]
DESCRIPTIONS = [
    "2025年农村公路养护项目，主要用于县乡道日常养护和安全隐患整治，预期优良路率达到80%以上",
    "义务教育阶段家庭经济困难学生生活补助资金，保障符合条件学生应助尽助",
    "基本公共卫生服务项目，高血压和糖尿病患者规范管理，提高居民健康水平",
    "城乡居民最低生活保障资金按时足额发放，困难群众满意度不低于90%",
    "高标准农田建设项目，新建灌溉渠道和田间道路，提升粮食综合生产能力",
]


def seed_documents():
    from kb.db import create_schema, make_engine, make_session_factory
    from kb.indexing import iter_documents
    from kb.services.audit import Actor
    from kb.services.library import load_library, parse_library

    from kb import SEED_DIR

    path = Path(tempfile.mkdtemp()) / "seed.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    with make_session_factory(engine)() as session:
        load_library(session, Actor.system("bench"), parse_library(session, [SEED_DIR / "departments", SEED_DIR / "indicators" / "common.yaml"]))
        session.commit()
        documents = list(iter_documents(session))
    engine.dispose()
    return documents


def corpus(seed, size: int, rng: random.Random):
    documents = []
    for number in range(size):
        base = seed[number % len(seed)]
        copy = number // len(seed)
        county = COUNTIES[copy % len(COUNTIES)]
        qualifier = QUALIFIERS[rng.randrange(len(QUALIFIERS))] if copy else ""
        text = dict(base.text)
        text["code"] = f"{base.key}-{copy:04d}"
        text["name"] = qualifier + base.text["name"]
        text["department"] = county + base.text.get("department", "")
        documents.append(replace(base, key=text["code"], text=text, fingerprint=f"{text['code']}:{copy}"))
    return documents


def queries(seed, rng: random.Random):
    names = [d.text["name"] for d in seed]
    keywords = sorted({w for d in seed for field in ("keywords", "projects") for w in d.text.get(field, "").split() if w})
    mix = [("name", n) for n in rng.sample(names, 80)]
    mix += [("keywords", " ".join(rng.sample(keywords, rng.choice((2, 3))))) for _ in range(60)]
    mix += [("description", rng.choice(DESCRIPTIONS)) for _ in range(40)]
    mix += [("word", w) for w in rng.sample(["满意度", "覆盖率", "及时率", "资金", "养护", "补助", "培训", "达标率", "低保", "医疗"], 10)] * 2
    return mix


def measure(backend, documents, mix) -> dict:
    from search.base import SearchQuery

    started = time.perf_counter()
    backend.rebuild(documents)
    build = time.perf_counter() - started
    for _, text in mix[:20]:
        backend.search(SearchQuery(text, limit=10))
    timings: dict[str, list[float]] = {}
    found = exact = 0
    name_of = {document.key: document.text["name"] for document in documents}
    for kind, text in mix:
        started = time.perf_counter()
        result = backend.search(SearchQuery(text, limit=10, facets=("level1", "department")))
        timings.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        if kind == "name":
            exact += 1
            found += any(name_of.get(hit.key) == text for hit in result.hits)
    updates = []
    for number in range(5):
        document = documents[number * 7]
        token = f"唯一标记{number}号"
        changed = replace(document, text={**document.text, "keywords": document.text.get("keywords", "") + " " + token})
        started = time.perf_counter()
        backend.upsert([changed])
        hits = backend.search(SearchQuery(token, limit=3)).hits
        updates.append((time.perf_counter() - started) * 1000)
        assert hits and hits[0].key == document.key, "update not searchable"
    every = [t for values in timings.values() for t in values]

    def pct(values, share):
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(share * (len(ordered) - 1)))], 1)

    return {
        "build_s": round(build, 1),
        "p50_ms": pct(every, 0.5), "p95_ms": pct(every, 0.95),
        "by_kind_p50_ms": {kind: pct(values, 0.5) for kind, values in timings.items()},
        "by_kind_p95_ms": {kind: pct(values, 0.95) for kind, values in timings.items()},
        "update_ms_median": round(statistics.median(updates), 1),
        "exact_name_top10": f"{found}/{exact}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/kb_test_ops")
    parser.add_argument("--backends", nargs="+", default=["whoosh", "postgres"])
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()

    from kb.indexing import INDICATOR_FIELDS, search_options
    from search.postgres_backend import PostgresBackend
    from search.whoosh_backend import WhooshBackend

    rng = random.Random(20261125)
    seed = seed_documents()
    mix = queries(seed, rng)
    report = []
    for size in args.sizes:
        documents = corpus(seed, size, random.Random(size))
        for name in args.backends:
            if name == "whoosh":
                backend = WhooshBackend(INDICATOR_FIELDS, index_dir=tempfile.mkdtemp(prefix="bench-whoosh-"), **search_options())
            else:
                backend = PostgresBackend(INDICATOR_FIELDS, dsn=args.dsn, table=f"bench_search_{size}", **search_options())
            result = {"backend": name, "documents": size, **measure(backend, documents, mix)}
            if name == "postgres":
                backend.drop()
            backend.close()
            print(json.dumps(result, ensure_ascii=False), flush=True)
            report.append(result)
    if args.report:
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

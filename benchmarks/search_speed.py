"""Search speed on a generated library: Whoosh, PostgreSQL and SQLite FTS5 over the same tokens, in one run.

    .venv/bin/python benchmarks/search_speed.py [--sizes 10000 100000] [--passes 2] [--engines whoosh postgres fts5]
        [--dsn postgresql://postgres@127.0.0.1:5432/postgres] [--compare benchmarks/results/earlier.json]
        [--meaning on|off|both]

For each size a fresh process per engine generates a realistic library from the seed vocabulary
(names with local qualifiers, definitions, formulas, keywords, projects, 77 department names; names
drawn Zipf-like), builds the index, then measures warm query latency (p50/p95/p99 per query type:
exact names, 2–3 keywords, pasted project descriptions of 30–60 characters, single words, everyday questions),
with the sentence model as deployed (``--meaning``; FTS5 never has it), the delay
from an edit to it being searchable, the index size and the peak memory of the process.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
sys.path.insert(0, str(ROOT))

from kb import SEED_DIR  # noqa: E402
from kb.indexing import FACETS, INDICATOR_FIELDS, search_options, sentence_model  # noqa: E402
from search.analysis import Analyzer  # noqa: E402
from search.base import Document, SearchQuery  # noqa: E402
from search.meaning import pack, passage_text  # noqa: E402

QUALIFIERS = ["", "", "", "农村", "城区", "全县", "乡镇", "重点", "年度", "新建", "困难群众", "中小学"]
CLAUSES = ["，按季度统计", "，以年底数据为准", "，由主管部门审核确认", "，数据来源于业务台账", "，含县级配套部分", ""]
DESCRIPTIONS = [
    "{year}年{project}项目：{definition}预计{verb}{number}{unit}，年底前完成并通过验收",
    "为全县{dept}开展{project}，{definition}计划覆盖{number}{unit}",
    "{dept}{year}年{project}资金，主要用于{keyword}和{keyword2}，{definition}",
]


def load_templates() -> tuple[list[dict], list[str]]:
    indicators, departments = [], []
    for path in sorted((SEED_DIR / "departments").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        departments.append(data["department"]["name"])
        indicators += (data.get("indicator_set") or {}).get("indicators") or []
    indicators += yaml.safe_load((SEED_DIR / "indicators" / "common.yaml").read_text(encoding="utf-8"))["indicators"]
    return indicators, departments


def template_meanings(templates: list[dict]) -> list[str]:
    """The packed sentence vector of each seed indicator (search/meaning.py), shared by the documents made from it:
    encoding 100,000 generated texts would take an hour, and a document's vector costs the same at query time
    whatever its content."""
    vectors = sentence_model().passages([passage_text(t["name"], t.get("definition") or "") for t in templates])
    return [pack(vector) for vector in vectors]


def generate(size: int, seed: int = 7, meaning: bool = False) -> list[Document]:
    """``size`` documents shaped like kb.indexing.indicator_document, from the seed vocabulary (``meaning``: with
    sentence vectors)."""
    rng = random.Random(seed)
    templates, departments = load_templates()
    meanings = template_meanings(templates) if meaning else [""] * len(templates)
    weights = [1 / (rank + 1) for rank in range(len(templates))]  # Zipf(1): a few names are everywhere
    documents = []
    for n in range(size):
        number = rng.choices(range(len(templates)), weights)[0]
        template = templates[number]
        department = rng.choice(departments)
        name = rng.choice(QUALIFIERS) + template["name"]
        text = {
            "code": f"G-{n:06d}",
            "name": name,
            "keywords": " ".join(template.get("keywords") or []),
            "projects": " ".join(template.get("projects") or []),
            "definition": (template.get("definition") or "").rstrip("。") + rng.choice(CLAUSES) + "。",
            "formula": template.get("formula") or "",
            "department": department,
            "level": f"{template['level1']} {template['level2']}",
        }
        facets = {"department": f"D{departments.index(department):03d}", "level1": template["level1"],
                  "level2": template["level2"], "nature": template["nature"], "unit": template.get("unit", ""),
                  "status": "certified", "state": "active", "kind": "个性", "project": (template.get("projects") or [""])[0]}
        documents.append(Document(key=text["code"], text=text, facets=facets, rank=1.0, fingerprint=str(n),
                                  meaning=meanings[number]))
    return documents


def make_queries(documents: list[Document], seed: int = 11) -> list[tuple[str, str]]:
    """220 queries: 80 exact names, 60 keyword pairs/triples, 40 descriptions, 20 single words and 20 questions in
    everyday words (the blind set's paraphrases: what the sentence model is asked for)."""
    rng = random.Random(seed)
    analyzer = Analyzer()
    queries = [("name", rng.choice(documents).text["name"]) for _ in range(80)]
    words = [w for d in rng.sample(documents, 300) for w in analyzer.words(d.text["name"]) if len(w) >= 2]
    for _ in range(60):
        queries.append(("keywords", " ".join(rng.sample(words, rng.choice((2, 3))))))
    for _ in range(40):
        d = rng.choice(documents)
        text = rng.choice(DESCRIPTIONS).format(
            year=rng.choice((2024, 2025)), project=(d.text["projects"] or d.text["name"]).split()[0],
            definition=d.text["definition"][:24], verb=rng.choice(("完成", "惠及", "覆盖")), number=rng.randint(5, 9000),
            unit=rng.choice(("户", "人", "公里", "所", "台")), dept=d.text["department"],
            keyword=rng.choice(words), keyword2=rng.choice(words))
        queries.append(("description", re.sub(r"\s+", "", text)[:60]))
    queries += [("word", rng.choice(words)) for _ in range(20)]
    blind = yaml.safe_load((ROOT / "benchmarks" / "queries" / "pilot_blind.yaml").read_text(encoding="utf-8"))
    questions = [q["query"] for q in blind["queries"] if q["type"] == "paraphrase"]
    queries += [("question", text) for text in rng.sample(questions, 20)]
    return queries


def percentile(values: list[float], share: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(share * len(values)))]


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Fts5:
    """SQLite FTS5 over the same analyzer tokens (space-joined), bm25 with the same field boosts."""

    GROUPS = ("name", "terms", "body", "context")
    WEIGHTS = (8.0, 4.0, 1.5, 1.0)

    def __init__(self, path: Path) -> None:
        self.path = path
        self.analyzer = Analyzer(search_options()["user_words"])
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"CREATE VIRTUAL TABLE docs USING fts5(key UNINDEXED, {', '.join(self.GROUPS)})")

    def _row(self, document: Document) -> tuple:
        groups = {"name": ["name", "code"], "terms": ["keywords", "projects"], "body": ["definition", "formula"],
                  "context": ["department", "level"]}
        return (document.key, *(" ".join(t for f in groups[g] for t in self.analyzer.tokens(document.text.get(f, "")))
                                for g in self.GROUPS))

    def rebuild(self, documents: list[Document]) -> None:
        self.db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?)", (self._row(d) for d in documents))
        self.db.execute("INSERT INTO docs(docs) VALUES ('optimize')")
        self.db.commit()

    def upsert(self, documents: list[Document]) -> None:
        for document in documents:
            self.db.execute("DELETE FROM docs WHERE key = ?", (document.key,))
            self.db.execute("INSERT INTO docs VALUES (?, ?, ?, ?, ?)", self._row(document))
        self.db.commit()

    def search(self, text: str) -> list[str]:
        tokens = [t for t in dict.fromkeys(self.analyzer.tokens(text)) if re.fullmatch(r"\w+", t)]
        if not tokens:
            return []
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in tokens)
        weights = ", ".join(str(w) for w in self.WEIGHTS)
        rows = self.db.execute(
            f"SELECT key FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0, {weights}) LIMIT 10", (match,))
        return [row[0] for row in rows]

    def close(self) -> None:
        self.db.close()


def open_engine(engine: str, workdir: Path, dsn: str | None, meaning: bool = False):
    """The engine's backend-like object, with ``rebuild``, ``upsert``, ``search(text) → keys`` and ``close``."""
    if engine == "fts5":
        return Fts5(workdir / "fts.sqlite3")
    if engine == "whoosh":
        from search.whoosh_backend import WhooshBackend

        backend = WhooshBackend(INDICATOR_FIELDS, index_dir=workdir / "index", **search_options(meaning))
    elif engine == "postgres":
        from search.postgres_backend import PostgresBackend

        backend = PostgresBackend(INDICATOR_FIELDS, dsn=dsn, table=f"speed_{uuid.uuid4().hex[:10]}", temporary=True,
                                  **search_options(meaning))
    else:
        raise SystemExit(f"不认识的检索引擎：{engine}（可选 whoosh、postgres、fts5）")
    backend.keys = lambda text: [h.key for h in backend.search(SearchQuery(text=text, facets=FACETS, limit=10)).hits]
    return backend


def run_engine(engine: str, size: int, passes: int, dsn: str | None = None, meaning: bool = False) -> dict:
    """Build, query and update one engine in this process; return the figures."""
    meaning = meaning and engine != "fts5"
    documents = generate(size, meaning=meaning)
    queries = make_queries(documents)
    workdir = Path(tempfile.mkdtemp(prefix="kb-speed-"))
    backend = open_engine(engine, workdir, dsn, meaning)
    try:
        search = backend.keys if engine != "fts5" else backend.search
        started, cpu_started = time.perf_counter(), time.process_time()
        children_started = children_cpu()
        backend.rebuild(documents)
        build, build_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        build_children_cpu = children_cpu() - children_started
        for _, text in queries[:20]:  # warm-up: open readers, load vocabularies
            search(text)
        timings: dict[str, list[float]] = {}
        exact_hits = 0
        for _ in range(passes):
            for kind, text in queries:
                started = time.perf_counter()
                keys = search(text)
                timings.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
                if kind == "name":
                    exact_hits += any(d.text["name"] == text for d in documents if d.key in set(keys))
        delays = []
        for n in range(5):
            original = documents[n * 7]
            token = f"zzedit{n}"
            edited = Document(key=original.key, text={**original.text, "keywords": token}, facets=original.facets,
                              fingerprint=f"edit{n}", meaning=original.meaning)
            started = time.perf_counter()
            backend.upsert([edited])
            while original.key not in search(token):
                if time.perf_counter() - started > 10:
                    break
            delays.append((time.perf_counter() - started) * 1000)
        every = [t for values in timings.values() for t in values]
        return {
            "engine": engine + (" + meaning" if meaning else ""), "size": size, "build_s": round(build, 2), "build_cpu_s": round(build_cpu, 2),
            "build_children_cpu_s": round(build_children_cpu, 2),
            "p50": percentile(every, 0.5), "p95": percentile(every, 0.95), "p99": percentile(every, 0.99),
            "by_type": {k: [round(percentile(v, 0.5), 1), round(percentile(v, 0.95), 1), round(percentile(v, 0.99), 1)]
                        for k, v in timings.items()},
            "exact_name_at_10": exact_hits / (passes * sum(1 for k, _ in queries if k == "name")),
            "edit_visible_ms": statistics.median(delays),
            "index_mb": round(directory_size(workdir) / 1e6, 1) if engine != "postgres" else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "children_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        }
    finally:
        backend.close()
        shutil.rmtree(workdir, ignore_errors=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def postgres_dsn(explicit: str | None) -> str | None:
    """The PostgreSQL to measure on, or None when none answers."""
    dsn = explicit or os.environ.get("KB_TEST_DATABASE_URL") or DEFAULT_DSN
    try:
        import psycopg

        from search.postgres_backend import _conninfo

        psycopg.connect(_conninfo(dsn), connect_timeout=3).close()
    except Exception as error:  # noqa: BLE001 — any failure means "not reachable": say so and go on
        print(f"PostgreSQL 不可用（{dsn}）：{error}；本次不测 PostgreSQL。", file=sys.stderr)
        return None
    return dsn


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


FIGURES = ("build_s", "p50", "p95", "edit_visible_ms", "peak_rss_mb")


def compare(results: list[dict], earlier_path: Path) -> None:
    """Each figure of this run divided by the same figure of an earlier run (same engine and size)."""
    earlier_run = json.loads(earlier_path.read_text(encoding="utf-8"))
    earlier = {(r["engine"], r["size"]): r for r in earlier_run["results"]}
    print(f"\nCompared with {earlier_path.name} (load average then {earlier_run.get('load_average_before')} → "
          f"{earlier_run.get('load_average_after')}): this run ÷ that run")
    print("| engine | docs | " + " | ".join(FIGURES) + " | p95 by type: name / keywords / description / word |")
    print("|---|---|" + "---|" * (len(FIGURES) + 1))
    for r in results:
        old = earlier.get((r["engine"], r["size"]))
        if old is None:
            print(f"| {r['engine']} | {r['size']:,} | (not in {earlier_path.name}) |")
            continue
        ratio = lambda new, was: f"{new / was:.2f}×" if new is not None and was else "–"  # noqa: E731
        by_type = " / ".join(ratio(r["by_type"][k][1], old["by_type"].get(k, [0, 0])[1])
                             for k in ("name", "keywords", "description", "word"))
        print(f"| {r['engine']} | {r['size']:,} | " + " | ".join(ratio(r.get(f), old.get(f)) for f in FIGURES)
              + f" | {by_type} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["whoosh", "postgres", "fts5"])
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--dsn", help="PostgreSQL URL (throwaway tables are created and dropped there)")
    parser.add_argument("--compare", type=Path, help="an earlier results JSON to compare with")
    parser.add_argument("--output", type=Path, help="where to keep this run's JSON (default benchmarks/results/)")
    parser.add_argument("--meaning", choices=("on", "off", "both"), default="on",
                        help="with the sentence model (as deployed), without it, or each in turn")
    parser.add_argument("--run", nargs=2, metavar=("ENGINE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_engine(args.run[0], int(args.run[1]), args.passes, args.dsn, args.meaning == "on")))
        return 0
    engines = list(args.engines)
    dsn = postgres_dsn(args.dsn) if "postgres" in engines else None
    if "postgres" in engines and dsn is None:
        engines.remove("postgres")
    modes = ["on", "off"] if args.meaning == "both" else [args.meaning]
    before = load_average()
    print(f"load average before: {before} ({os.cpu_count()} cores)", file=sys.stderr)
    results = []
    for size in args.sizes:
        for engine, meaning in [(e, m) for e in engines for m in modes if e != "fts5" or m == "off"]:
            command = [sys.executable, __file__, "--run", engine, str(size), "--passes", str(args.passes),
                       "--meaning", meaning]
            out = subprocess.run(command + (["--dsn", dsn] if engine == "postgres" else []),
                                 capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["load_average"] = load_average()
            results.append(result)
            print(json.dumps(result, ensure_ascii=False), file=sys.stderr)
    after = load_average()
    print("| engine | docs | build s (CPU s: process + build processes) | p50 / p95 / p99 ms "
          "| p95 by type: name / keywords / description / word / question ms | exact name@10 | edit → searchable ms "
          "| index MB | peak RSS MB (build processes) | load average |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        by = r["by_type"]
        print(f"| {r['engine']} | {r['size']:,} | {r['build_s']} ({r['build_cpu_s']} + {r['build_children_cpu_s']}) | "
              f"{r['p50']:.1f} / {r['p95']:.1f} / {r['p99']:.1f} | "
              f"{by['name'][1]} / {by['keywords'][1]} / {by['description'][1]} / {by['word'][1]} / {by['question'][1]} | "
              f"{r['exact_name_at_10']:.0%} | {r['edit_visible_ms']:.0f} | {r['index_mb'] or '–'} | "
              f"{r['peak_rss_mb']} ({r['children_peak_rss_mb']}) | {r['load_average'][0]} |")
    for size in args.sizes:
        pair = {r["engine"]: r for r in results if r["size"] == size}
        for first, other in (("whoosh + meaning", "whoosh"), ("postgres + meaning", "postgres"),
                             ("whoosh", "postgres"), ("whoosh", "fts5")):
            if first in pair and other in pair:
                w, o = pair[first], pair[other]
                print(f"\n{size:,} docs — {first} / {other}: p50 {w['p50'] / o['p50']:.1f}×, "
                      f"p95 {w['p95'] / o['p95']:.1f}×, build {w['build_s'] / o['build_s']:.1f}×, edit → searchable "
                      f"{w['edit_visible_ms'] / o['edit_visible_ms']:.1f}×")
    print(f"\nload average before {before}, after {after}: figures taken above 2 are upper bounds.")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or RESULTS / f"search_speed-{stamp}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"benchmark": "search_speed", "time": stamp, "cores": os.cpu_count(),
                                  "passes": args.passes, "load_average_before": before, "load_average_after": after,
                                  "results": results}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"figures kept in {output}")
    if args.compare:
        compare(results, args.compare)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

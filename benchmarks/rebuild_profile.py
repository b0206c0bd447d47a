"""Where a full index rebuild spends its time: reading documents from the database, segmenting, writing.

    .venv/bin/python benchmarks/rebuild_profile.py [--size 20000] [--procs 1] [--database-url URL] [--cprofile]

Fills a fresh database (SQLite in a temporary folder unless ``--database-url`` names an empty one) with the
seed library plus generated indicators up to ``--size`` (benchmarks/search_speed.py's generator), then times
three stages separately, each in this process (the build's worker processes are its children):

1. ``documents``: kb.indexing.iter_documents over the whole database (ORM rows → search documents);
2. ``analysis``: the Whoosh backend's per-document analysis (jieba segmentation, stored data) alone;
3. ``rebuild``: kb.indexing.rebuild_index end to end with ``--procs`` build processes.

Prints one JSON line with wall and CPU seconds per stage (children: the build processes), the peak memory
of this process and of its largest child, the peak total PSS of the rebuild (this process and its
children, shared pages counted once: what the machine actually spends), and the load average (figures
taken under load are upper bounds).
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sqlalchemy import insert, select  # noqa: E402

from kb import SEED_DIR  # noqa: E402
from kb.db import create_schema, make_engine, make_session_factory  # noqa: E402
from kb.indexing import INDICATOR_FIELDS, iter_documents, rebuild_index, search_options  # noqa: E402
from kb.models import Department, Indicator  # noqa: E402
from kb.services.audit import Actor  # noqa: E402
from kb.services.library import load_library, parse_library  # noqa: E402
from search_speed import generate  # noqa: E402


def fill(session, size: int) -> int:
    """The seed library plus generated indicators up to ``size``; returns the indicator count."""
    load_library(session, Actor.system("基准测试"), parse_library(session, [SEED_DIR / "departments",
                                                                        SEED_DIR / "indicators" / "common.yaml"]))
    session.flush()
    departments = {d.name: d.id for d in session.scalars(select(Department))}
    present = len(session.scalars(select(Indicator.id)).all())
    rows = []
    for document in generate(max(0, size - present)):
        text = document.text
        rows.append({
            "code": text["code"], "department_id": departments.get(text["department"]), "position": 0,
            "name": text["name"][:200], "level1": document.facets["level1"], "level2": document.facets["level2"],
            "nature": document.facets["nature"], "operator": "≥", "target": "100", "unit": document.facets["unit"],
            "definition": text["definition"], "formula": text["formula"], "projects": text["projects"].split(),
            "keywords": text["keywords"].split(), "row_version": 1,
        })
        if len(rows) == 5000:
            session.execute(insert(Indicator), rows)
            rows = []
    if rows:
        session.execute(insert(Indicator), rows)
    session.flush()
    return len(session.scalars(select(Indicator.id)).all())


def _pss_mb(pid: int, field: str = "Pss:") -> float:
    """Proportional set size: shared pages (a forked worker's inherited dictionary) counted once overall."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _family(pid: int) -> list[int]:
    found = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += _family(int(child))
    except OSError:
        pass
    return found


class MemorySampler(threading.Thread):
    """The largest total PSS of this process and its children, sampled every 0.2 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.running, self.at_peak = 0.0, True, []

    def run(self) -> None:
        while self.running:
            each = [(round(_pss_mb(pid)), round(_pss_mb(pid, "Private_Dirty:"))) for pid in _family(os.getpid())]
            if sum(pss for pss, _ in each) > self.peak:
                self.peak, self.at_peak = sum(pss for pss, _ in each), each
            time.sleep(0.2)

    def stop(self) -> float:
        self.running = False
        self.join()
        return round(self.peak)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(label: str, figures: dict, action, profile: bool):
    profiler = cProfile.Profile() if profile else None
    started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    if profiler:
        profiler.enable()
    result = action()
    if profiler:
        profiler.disable()
    figures[f"{label}_s"] = round(time.perf_counter() - started, 2)
    figures[f"{label}_cpu_s"] = round(time.process_time() - cpu, 2)
    if _children_cpu() > children:
        figures[f"{label}_children_cpu_s"] = round(_children_cpu() - children, 2)
    if profiler:
        print(f"--- {label}: top functions by cumulative time", file=sys.stderr)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--database-url", help="a database to use; filled first when it holds no indicators")
    parser.add_argument("--fill-only", action="store_true",
                        help="only fill --database-url (then measure in a fresh process, whose memory the fill "
                             "did not grow)")
    parser.add_argument("--cprofile", action="store_true", help="print the top functions of each stage")
    parser.add_argument("--stages", nargs="+", default=["documents", "analysis", "rebuild"])
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kb-rebuild-"))
    try:
        engine = make_engine(args.database_url or f"sqlite:///{workdir / 'kb.sqlite3'}")
        create_schema(engine)
        from search.whoosh_backend import WhooshBackend

        backend = WhooshBackend(INDICATOR_FIELDS, index_dir=workdir / "index", build_procs=args.procs,
                                **search_options())
        figures: dict = {"size": args.size, "procs": args.procs,
                         "database": engine.dialect.name}
        with make_session_factory(engine)() as session:
            present = len(session.scalars(select(Indicator.id)).all())
            if not present:
                figures["indicators"] = timed("fill", figures, lambda: fill(session, args.size), False)
                session.commit()
            else:
                figures["indicators"] = present
            if args.fill_only:
                print(json.dumps(figures, ensure_ascii=False))
                return 0
            documents = None
            if "documents" in args.stages:
                documents = timed("documents", figures, lambda: list(iter_documents(session)), args.cprofile)
            if "analysis" in args.stages:
                backend.analyzer.warm_up()
                timed("analysis", figures, lambda: [backend._fields_of(d) for d in documents], args.cprofile)
                backend.analyzer._cache = {}
            documents = None  # the rebuild reads the database again
            if "rebuild" in args.stages:
                before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                sampler = MemorySampler()
                sampler.start()
                timed("rebuild", figures, lambda: rebuild_index(session, backend), args.cprofile)
                figures["rebuild_peak_total_pss_mb"] = sampler.stop()
                figures["at_peak_pss_and_private_dirty_mb"] = sampler.at_peak  # this process first
                figures["rss_before_rebuild_mb"] = round(before / 1024)
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        figures["children_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(figures, ensure_ascii=False))
        backend.close()
        engine.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

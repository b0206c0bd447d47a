"""目标申报 timings: how fast the live quality check answers, and the finance insight pages' work.

    .venv/bin/python benchmarks/goals.py [--repeat 200]

Builds an in-memory SQLite library from the seed, drafts the 基本公共卫生 goal from its bundle, then
times (median and p95 of ``--repeat`` runs):
- ``kb.quality.check_goal`` alone on the 13-row goal and on a 60-row goal (the checker's cost);
- ``goals.check`` (checker + library reference values from the database), what ``POST /goals/<id>/check``
  runs for every pause in typing;
- the 申报表 workbook of one goal, and of a department with 20 goals;
- ``near_duplicates`` and ``lint_database`` over the whole seed (the usage page).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from kb import quality  # noqa: E402
from kb.spreadsheets import goal_forms  # noqa: E402
from kb.db import create_schema, make_engine, make_session_factory  # noqa: E402
from kb.models import Department, Indicator  # noqa: E402
from kb.services import goal_usage, goals  # noqa: E402
from kb.services.audit import Actor  # noqa: E402
from kb.services.library import load_library, parse_library  # noqa: E402
from tests.conftest import SEED_PATHS  # noqa: E402


def timed(label: str, function, repeat: int) -> None:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(f"{label:<48} median {statistics.median(samples):8.2f} ms   p95 {p95:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    engine = make_engine("sqlite://")
    create_schema(engine)
    session = make_session_factory(engine)()
    actor = Actor.system("benchmark")
    load_library(session, actor, parse_library(session, SEED_PATHS))
    department = session.scalars(select(Department).where(Department.code == "102")).one()
    goal = goals.create_goal(session, actor, department, 2025, {
        "name": "2025年基本公共卫生服务项目", "amount": "1200", "kind": "延续", "category": "公共服务类",
        "annual_objective": "为全县居民提供 12 类基本公共卫生服务。", "long_term_objective": "三年内覆盖全县居民。"})
    goals.add_bundle(session, actor, goal, "国家基本公共卫生服务项目")
    draft = goals.goal_to_dict(goal)
    big = {**draft, "rows": [dict(row, name=f"{row['name']}{i}") for i in range(5) for row in draft["rows"]][:60]}
    library = goals.library_reference(session, [row["code"] for row in draft["rows"]])
    print(f"goal rows: {len(draft['rows'])}; library indicators: {session.scalar(select(func.count()).select_from(Indicator))}")
    timed("quality.check_goal, 13 rows", lambda: quality.check_goal(draft, library=library), args.repeat)
    timed("quality.check_goal, 60 rows", lambda: quality.check_goal(big, library=library), args.repeat)
    timed("goals.check (checker + library lookup), 13 rows", lambda: goals.check(session, draft), args.repeat)
    timed("申报表 workbook, 1 goal", lambda: goal_forms.workbook_bytes(goal_forms.goal_form_workbook(draft)),
          max(10, args.repeat // 10))
    timed("申报表 workbook, department with 20 goals",
          lambda: goal_forms.workbook_bytes(goal_forms.department_workbook([draft] * 20, "县卫生健康局", 2025)),
          max(5, args.repeat // 40))
    timed("near_duplicates over the seed", lambda: goal_usage.near_duplicates(session), max(5, args.repeat // 20))
    timed("lint_database over the seed", lambda: goal_usage.lint_database(session), max(5, args.repeat // 20))


if __name__ == "__main__":
    main()

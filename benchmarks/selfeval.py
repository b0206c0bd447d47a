"""A county's year of 自评 (issue 13): 1,200 filled 项目支出绩效自评表 import and score in < 30 s.

    .venv/bin/python benchmarks/selfeval.py                       # SQLite in a temporary directory
    .venv/bin/python benchmarks/selfeval.py --tables 1200 --repeat 3
    .venv/bin/python benchmarks/selfeval.py --database-url postgresql+psycopg://postgres@127.0.0.1/kb_bench

The database gets the county seed (77 departments, 303 indicators). The tables are written by openpyxl
like a department's (the standard form, 6–12 indicator rows across 产出/效益/满意度, 定量 and 定性,
some not met with their explanation, the departments of the seed in turn) into files on disk. Timed:
writing the files (not part of the promise); reading, scoring and checking every file
(``plan_import``, i.e. ``--dry-run``); and the whole import as ``kb selfeval import`` does it (read,
score, check, write every table and row in one transaction, commit).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from kb import SEED_DIR  # noqa: E402
from kb.db import create_schema, make_engine, make_session_factory  # noqa: E402
from kb.models import Base, Department, SelfEvaluation  # noqa: E402
from kb.selfeval.scoring import default_weights  # noqa: E402
from kb.services import selfeval  # noqa: E402
from kb.services.audit import Actor  # noqa: E402
from kb.services.library import load_library, parse_library  # noqa: E402
from kb.spreadsheets.goal_forms import workbook_bytes  # noqa: E402
from kb.spreadsheets.selfeval import selfeval_workbook  # noqa: E402

ACTOR = Actor("bench", "finance", None)
ROWS = (
    ("产出指标", "数量指标", "培训人数", "≥{n}人", lambda n, r: f"{int(n * r.uniform(0.85, 1.2))}人"),
    ("产出指标", "质量指标", "验收合格率", "≥95%", lambda n, r: f"{r.choice((93, 95, 98, 100))}%"),
    ("产出指标", "时效指标", "办理时限", "≤30天", lambda n, r: f"{r.choice((25, 30, 33))}天"),
    ("产出指标", "质量指标", "组织规范", "定性", None),
    ("成本指标", "经济成本指标", "人均成本", "≤{n}元", lambda n, r: f"{int(n * r.uniform(0.9, 1.05))}元"),
    ("效益指标", "社会效益指标", "政策知晓率", "≥90%", lambda n, r: f"{r.choice((86, 90, 92))}%"),
    ("效益指标", "可持续影响指标", "长效机制", "定性", None),
    ("满意度指标", "服务对象满意度指标", "服务对象满意度", "≥90%", lambda n, r: f"{r.choice((85, 91, 95))}%"),
)


def table(number: int, department: str, rng: random.Random) -> bytes:
    rows = []
    for level1, level2, name, target, actual in rng.sample(ROWS, rng.randint(6, len(ROWS))):
        n = rng.choice((100, 500, 1200))
        row = {"level1": level1, "level2": level2, "name": name, "target": target.format(n=n),
               "explanation": "原因分析；改进措施。"}
        row["actual"] = "达成年度指标" if actual is None else actual(n, rng)
        rows.append(row)
    # 定性 rows: the evaluator's score, 90 % of the default weight (inside the 达成 band).
    for row, weight in zip(rows, default_weights([row["level1"] for row in rows])):
        if actual_is_grade(row):
            row["score"] = float(round(weight * 9 / 10, 2))
    form = {"year": 2023, "project": f"项目{number:04d}", "department": department, "budget": 100,
            "initial_budget": 100, "executed": rng.randint(60, 100), "rows": rows}
    return workbook_bytes(selfeval_workbook(form))


def actual_is_grade(row: dict) -> bool:
    return row["actual"] == "达成年度指标"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.sqlite3"
        engine = make_engine(url)
        if args.database_url:
            Base.metadata.drop_all(engine)
        create_schema(engine)
        sessions = make_session_factory(engine)
        with sessions() as session:
            load_library(session, Actor.system("bench"), parse_library(
                session, [SEED_DIR / "departments", SEED_DIR / "indicators" / "common.yaml"]))
            session.commit()
            codes = [code for code, in session.execute(select(Department.code).order_by(Department.code))]
        rng = random.Random(2023)
        started = time.perf_counter()
        paths = []
        for number in range(args.tables):
            path = Path(folder) / f"{number:04d}.xlsx"
            path.write_bytes(table(number, codes[number % len(codes)], rng))
            paths.append(path)
        print(f"writing {args.tables} tables: {time.perf_counter() - started:.1f} s "
              f"({sum(p.stat().st_size for p in paths) / 1024 / 1024:.1f} MiB)")
        plan_times, import_times = [], []
        for _ in range(args.repeat):
            with sessions() as session:
                started = time.perf_counter()
                plan = selfeval.plan_import(session, ACTOR, ((p.name, p.read_bytes()) for p in paths))
                plan_times.append(time.perf_counter() - started)
                assert not plan.problems, plan.problems[:5]
            with sessions() as session:
                started = time.perf_counter()
                selfeval.import_selfevaluations(session, ACTOR, ((p.name, p.read_bytes()) for p in paths))
                session.commit()
                import_times.append(time.perf_counter() - started)
                total = session.scalar(select(func.count()).select_from(SelfEvaluation))
        print(f"read + score + check (dry run): median {statistics.median(plan_times):.1f} s")
        print(f"import (read, score, write, commit): median {statistics.median(import_times):.1f} s "
              f"for {total} self-evaluations — promise < 30 s")
        print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        engine.dispose()


if __name__ == "__main__":
    main()

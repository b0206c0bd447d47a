"""审定流程 timings: the county progress board, its Excel export, 待办, a set's page data and a diff.

    .venv/bin/python benchmarks/workflow.py [--repeat 50] [--database-url URL]

Builds the county seed (77 departments, 8 pilots certified) in a fresh database (SQLite file by
default), gives every other department a draft with 5 indicators, puts 20 of them under review with 3
experts and 10 comments each, starts version 2 of the 8 pilots with a changed target, then times
(median and p95 of ``--repeat`` runs) what the pages compute:
- ``progress_board`` (all 77 departments) and ``board_workbook`` (its .xlsx);
- ``inbox`` of a finance user and of an expert;
- a set page's data for pilot 101 v2 (content, comments, timeline, allowed actions);
- ``diff_versions`` of 101 v1 → v2.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from kb.db import create_schema, make_engine, make_session_factory  # noqa: E402
from kb.models import Department, Indicator, User  # noqa: E402
from kb.schemas import IndicatorSchema  # noqa: E402
from kb.services import board, inbox, reviews, workflow  # noqa: E402
from kb.services.audit import Actor  # noqa: E402
from kb.services.library import apply_indicator_fields, load_library, parse_library  # noqa: E402
from kb.vocab import Role  # noqa: E402
from tests.conftest import SEED_PATHS, indicator_data  # noqa: E402


def timed(label: str, function, repeat: int) -> None:
    """Wall-clock median/p95 and the median CPU time of this process (the work's own cost on a busy host)."""
    samples, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(f"{label:<40} wall median {statistics.median(samples):7.1f} ms  p95 {p95:7.1f} ms  "
          f"CPU median {statistics.median(cpu):7.1f} ms")


def build(session) -> dict[str, Actor]:
    system = Actor.system("benchmark")
    load_library(session, system, parse_library(session, SEED_PATHS))
    users = {name: User(username=name, role=role, password_hash="x")
             for name, role in (("fin", Role.FINANCE), ("e1", Role.EXPERT), ("e2", Role.EXPERT), ("e3", Role.EXPERT))}
    session.add_all(users.values())
    session.flush()
    actors = {name: Actor.of(user) for name, user in users.items()}
    schema = IndicatorSchema()
    departments = session.scalars(select(Department).order_by(Department.code)).all()
    under_review = 0
    for department in departments:
        if department.pilot:
            continue
        workflow.start_next_version(session, actors["fin"], department, 2026)
        for i in range(5):
            indicator = Indicator(code=f"B{department.code}-{i}", department=department, position=i)
            apply_indicator_fields(indicator, schema.load(indicator_data(code=f"B{department.code}-{i}")))
            session.add(indicator)
        session.flush()
        if under_review < 20:
            under_review += 1
            dept_user = User(username=f"d{department.code}", role=Role.DEPARTMENT, department=department,
                             password_hash="x")
            session.add(dept_user)
            session.flush()
            current = department.current_set
            workflow.submit_set(session, Actor.of(dept_user), current)
            reviews.assign_experts(session, actors["fin"], current, [u.id for n, u in users.items() if n != "fin"],
                                   dt.date.today() + dt.timedelta(days=7))
            for i in range(10):
                reviews.add_comment(session, actors["e1"], current, "revise", f"意见 {i}",
                                    indicator_code=f"B{department.code}-{i % 5}")
    pilot_user = User(username="d101", role=Role.DEPARTMENT, department=departments[0], password_hash="x")
    session.add(pilot_user)
    session.flush()
    for department in departments:
        if department.pilot:
            workflow.start_next_version(session, actors["fin"], department)
            first = department.indicators[0]
            first.target = "99"
    session.commit()
    actors["d101"] = Actor.of(pilot_user)
    return actors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(args.database_url or f"sqlite:///{directory}/bench.sqlite3")
        create_schema(engine)
        session = make_session_factory(engine)()
        actors = build(session)
        pilot = session.scalar(select(Department).where(Department.code == "101"))
        v1, v2 = sorted(pilot.indicator_sets, key=lambda s: s.version)

        def set_page() -> None:
            workflow.set_content(session, v2)
            reviews.comments_for(session, v2)
            reviews.timeline(session, v2)
            workflow.allowed_actions(session, actors["d101"], v2)

        timed("progress_board (77 departments)", lambda: board.progress_board(session), args.repeat)
        timed("board_workbook (.xlsx)", lambda: board.board_workbook(board.progress_board(session)), args.repeat)
        timed("inbox: finance (20 reviews open)", lambda: inbox.inbox(session, actors["fin"]), args.repeat)
        timed("inbox: expert (20 assignments)", lambda: inbox.inbox(session, actors["e1"]), args.repeat)
        timed("set page data: 101 v2", set_page, args.repeat)
        timed("diff_versions 101 v1 → v2", lambda: workflow.diff_versions(session, v1, v2), args.repeat)
        session.close()
        engine.dispose()


if __name__ == "__main__":
    main()

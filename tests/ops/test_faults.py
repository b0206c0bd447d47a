"""Short, bounded fault tests (the long runs are ``benchmarks/faults.py``): two processes editing the
same indicator lose no update; a ``kb load`` killed with SIGKILL leaves all or nothing."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb.models import AuditEntry, Department, Indicator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from faults import _editor, big_department  # noqa: E402 - the benchmark's own worker, reused


@pytest.mark.slow
def test_two_processes_editing_one_indicator_lose_no_update(database_url, make_indicator, session, engine) -> None:
    make_indicator(code="T-001", target="100")
    session.commit()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    rounds = 10
    workers = [context.Process(target=_editor, args=(database_url, "T-001", rounds, n, queue)) for n in (1, 2)]
    for worker in workers:
        worker.start()
    outcomes = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
    assert [o["done"] for o in outcomes] == [rounds, rounds]
    with engine.connect() as connection:
        assert connection.scalar(select(Indicator.target).where(Indicator.code == "T-001")) == str(100 + 2 * rounds)
        assert connection.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.entity_key == "T-001", AuditEntry.action == "update")) == 2 * rounds


@pytest.mark.slow
def test_import_killed_with_sigkill_leaves_all_or_nothing(database_url, engine, tmp_path: Path) -> None:
    source = big_department(tmp_path / "big.yaml", 800)
    env = dict(os.environ, KB_DATA_DIR=str(tmp_path / "data"), DATABASE_URL=database_url, KB_SECRET_KEY="x" * 64)
    kb = str(Path(sys.executable).parent / "kb")
    process = subprocess.Popen([kb, "load", str(source)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)  # start-up, parsing, and part of the writing
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    with engine.connect() as connection:
        departments = connection.scalar(select(func.count()).select_from(Department).where(Department.code == "990"))
        indicators = connection.scalar(select(func.count()).select_from(Indicator).where(Indicator.code.like("GZ-%")))
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert (departments, indicators) in ((0, 0), (1, 800))

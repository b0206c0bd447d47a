"""Short, bounded fault tests (the long runs are ``benchmarks/faults.py``): two processes editing the
same indicator lose no update; a ``kb load`` killed with SIGKILL while it is writing (seen on its
progress bar, with uncommitted writes in the database) leaves nothing, and the index agrees."""
from __future__ import annotations

import fcntl
import multiprocessing
import os
import pty
import re
import struct
import termios
import select as io_select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from kb.models import AuditEntry, Department, Indicator
from kb.models.search_outbox import SearchOutbox

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from faults import _editor, big_department  # noqa: E402 - the benchmark's own worker, reused

# Big enough that the import's loop outlasts several progress redraws (0.1 s apart) on an idle machine:
# the loop writes a few thousand indicators a second.
BIG_IMPORT = 6000
PROGRESS = re.compile(rf"(\d+)/{BIG_IMPORT}\b")


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


def _wait_for_progress(master: int, process: subprocess.Popen, at_least: int, timeout: float = 120) -> int:
    """Read the progress bar ``kb load`` draws on its terminal until it has done ``at_least`` items."""
    seen, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = io_select.select([master], [], [], 0.5)
        if not ready:
            continue
        try:
            seen += os.read(master, 4096)
        except OSError:  # the terminal closed: the process ended
            break
        done = [int(match.group(1)) for match in PROGRESS.finditer(seen.decode("utf-8", "replace"))]
        if done and done[-1] >= at_least:
            return done[-1]
    raise AssertionError(f"kb load 没有显示导入进度（退出码 {process.poll()}）：{seen.decode('utf-8', 'replace')[-500:]}")


def _uncommitted_writer(engine, database_url: str) -> bool:
    """Whether another connection holds a transaction that has written and not committed."""
    if engine.dialect.name == "sqlite":
        probe = sqlite3.connect(make_url(database_url).database, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")  # fails while a writer holds the write lock
        except sqlite3.OperationalError as error:
            return "locked" in str(error)
        finally:
            probe.close()
        return False
    with engine.connect() as connection:  # a transaction gets an xid at its first write
        return bool(connection.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL")))


def _import_state(engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        return (
            connection.scalar(select(func.count()).select_from(Department).where(Department.code == "990")),
            connection.scalar(select(func.count()).select_from(Indicator).where(Indicator.code.like("GZ-%"))),
            connection.scalar(select(func.count()).select_from(SearchOutbox)),
        )


@pytest.mark.slow
def test_import_killed_with_sigkill_mid_way_leaves_nothing_and_a_consistent_index(database_url, engine, tmp_path: Path) -> None:
    source = big_department(tmp_path / "big.yaml", BIG_IMPORT)
    env = dict(os.environ, KB_DATA_DIR=str(tmp_path / "data"), DATABASE_URL=database_url, KB_SECRET_KEY="x" * 64)
    kb = str(Path(sys.executable).parent / "kb")
    # An installed library: schema and an (empty) index exist before the load starts.
    subprocess.run([kb, "init", "--no-seed"], env=env, check=True, capture_output=True, timeout=300)
    master, terminal = pty.openpty()  # on a terminal, kb load shows its progress bar…
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # …if it has a width
    process = subprocess.Popen([kb, "load", str(source)], env=env, stdout=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    try:
        done = _wait_for_progress(master, process, at_least=100)
        process.send_signal(signal.SIGSTOP)  # frozen mid-way: nothing can commit while we look
        assert done < BIG_IMPORT, "导入已全部完成，未能在中途终止"
        assert _import_state(engine)[:2] == (0, 0), "导入中途不应有已提交的数据"
        assert _uncommitted_writer(engine, database_url), "导入进程应持有未提交的写入"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        os.close(master)
    assert process.returncode == -signal.SIGKILL

    deadline = time.monotonic() + 30  # PostgreSQL ends the orphaned backend once it reads the closed socket
    while _uncommitted_writer(engine, database_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _import_state(engine) == (0, 0, 0)  # the half-written import left nothing, not even index work
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert not _uncommitted_writer(engine, database_url)  # the killed writer's transaction is gone
    check = subprocess.run([kb, "index", "check"], env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr

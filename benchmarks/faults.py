"""Fault injection (security.md §4.3/§4.8): what survives concurrent edits, kill -9 and a full disk.

    .venv/bin/python benchmarks/faults.py all            # every scenario, SQLite
    .venv/bin/python benchmarks/faults.py edits --database-url postgresql+psycopg://postgres@127.0.0.1/kb_faults
    .venv/bin/python benchmarks/faults.py kill-import --runs 8
    .venv/bin/python benchmarks/faults.py disk-full      # needs root (mounts a small tmpfs)

Scenarios:
- ``edits``: two processes (as two gunicorn workers) each raise the same indicator's target by one,
  N times, like users saving a form: read (version v), think, save with expected_version=v; on an
  edit conflict re-read and try again. No lost update means: final target = start + 2N, 2N audit rows.
- ``kill-import``: ``kb load`` of a 3,000-indicator department, SIGKILL at spread-out moments.
  Afterwards: integrity_check ok, the department is there with all its indicators or not at all,
  and after the start-up repair the index matches the database (``kb index check``).
- ``kill-index``: SIGKILL of ``kb index rebuild`` and of an update's index sync at spread-out moments;
  searches keep working on the previous generation, and the repair leaves the index consistent.
- ``disk-full``: the index directory on a tmpfs that is then filled; an edit and a rebuild run
  against the full disk; then space is freed and the repair runs.
"""
from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KB = str(ROOT / ".venv" / "bin" / "kb")
BACKEND = "search.whoosh_backend.WhooshBackend"


class World:
    """A data directory with the seed loaded (``kb init``) and the environment to run ``kb`` in it."""

    def __init__(self, database_url: str = "", index_dir: Path | None = None) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="kb-faults-"))
        self.env = dict(os.environ, KB_DATA_DIR=str(self.data_dir), KB_SECRET_KEY=secrets.token_hex(32), SEARCH_BACKEND=BACKEND)
        if database_url:
            self.env["DATABASE_URL"] = database_url
            _reset_postgres(database_url)
        if index_dir is not None:
            self.env["SEARCH_INDEX_DIR"] = str(index_dir)
        self.database_url = database_url or f"sqlite:///{self.data_dir / 'kb.sqlite3'}"

    def kb(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run([KB, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"kb {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result

    def spawn(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([KB, *args], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def engine(self):
        from kb.db import make_engine

        return make_engine(self.database_url)

    def integrity(self) -> str:
        if not self.database_url.startswith("sqlite"):
            return "n/a (PostgreSQL)"
        connection = sqlite3.connect(self.data_dir / "kb.sqlite3")
        try:
            return connection.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            connection.close()

    def repair(self) -> str:
        """What the next start-up does: rebuild a broken or incomplete index, else apply the queue."""
        from kb.indexing import repair_index, search_options
        from kb.indexing import INDICATOR_FIELDS
        from search import load_backend

        backend = load_backend(BACKEND, fields=INDICATOR_FIELDS, index_dir=self.env.get("SEARCH_INDEX_DIR") or str(self.data_dir / "index"),
                               **search_options())
        engine = self.engine()
        try:
            return repair_index(engine, backend)
        finally:
            backend.close()
            engine.dispose()

    def cleanup(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _reset_postgres(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{parsed.database}"')


def big_department(path: Path, count: int, code: str = "990", prefix: str = "GZ", name_suffix: str = "") -> Path:
    """A valid department file with ``count`` indicators (cycled from the seed's department 101)."""
    template = yaml.safe_load((ROOT / "kb" / "departments" / "101.yaml").read_text(encoding="utf-8"))
    items = template["indicator_set"]["indicators"]
    indicators = []
    for number in range(count):
        item = copy.deepcopy(items[number % len(items)])
        item["code"] = f"{prefix}-{number:05d}"
        item["name"] = f"{item['name']}{name_suffix}（{number}）"
        item.pop("evidence", None)
        indicators.append(item)
    document = {
        "department": {"code": code, "name": "故障演练局", "parent": None, "pilot": False, "functions": ["演练"]},
        "indicator_set": {"year": 2025, "status": "draft", "indicators": indicators},
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ---- concurrent edits --------------------------------------------------------------------------

def _editor(database_url: str, code: str, rounds: int, seed: int, queue) -> None:
    from sqlalchemy.orm.exc import StaleDataError

    from kb.db import make_engine, make_session_factory
    from kb.errors import EditConflict
    from kb.services.audit import Actor
    from kb.services.indicators import get_indicator, update_indicator
    from kb.services.library import indicator_to_dict

    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    rng = random.Random(seed)
    actor = Actor(f"editor{seed}", "finance")
    done = conflicts = 0
    while done < rounds:
        with sessions() as session:  # the GET that renders the form
            indicator = get_indicator(session, code)
            form, version = indicator_to_dict(indicator), indicator.row_version
        time.sleep(rng.uniform(0, 0.01))  # the user types
        form["target"] = str(int(form["target"]) + 1)
        with sessions() as session:  # the POST
            try:
                update_indicator(session, actor, code, form, expected_version=version)
                session.commit()
                done += 1
            except (EditConflict, StaleDataError):
                session.rollback()
                conflicts += 1
    engine.dispose()
    queue.put({"done": done, "conflicts": conflicts})


def run_edits(database_url: str, rounds: int) -> dict:
    from sqlalchemy import func, select

    from kb.models import AuditEntry, Indicator

    world = World(database_url)
    world.kb("init")
    engine = world.engine()
    code = "JY-001"
    with engine.connect() as connection:
        start = int(connection.scalar(select(Indicator.target).where(Indicator.code == code)))
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_editor, args=(world.database_url, code, rounds, n, queue)) for n in (1, 2)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    outcomes = [queue.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    with engine.connect() as connection:
        final = int(connection.scalar(select(Indicator.target).where(Indicator.code == code)))
        audits = connection.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.entity_key == code, AuditEntry.action == "update"))
    engine.dispose()
    world.cleanup()
    result = {
        "scenario": "edits", "database": database_url or "sqlite", "rounds_per_worker": rounds,
        "saved": sum(o["done"] for o in outcomes), "conflicts_retried": sum(o["conflicts"] for o in outcomes),
        "target_start": start, "target_final": final, "audit_updates": audits, "seconds": round(elapsed, 1),
    }
    result["ok"] = final == start + 2 * rounds and audits == 2 * rounds
    return result


# ---- kill -9 ------------------------------------------------------------------------------------

def _library_state(world: World, code: str, prefix: str) -> dict:
    from sqlalchemy import func, select

    from kb.models import Department, Indicator
    from kb.models.search_outbox import SearchOutbox

    engine = world.engine()
    with engine.connect() as connection:
        state = {
            "department": connection.scalar(select(func.count()).select_from(Department).where(Department.code == code)),
            "indicators": connection.scalar(select(func.count()).select_from(Indicator).where(Indicator.code.like(f"{prefix}-%"))),
            "outbox": connection.scalar(select(func.count()).select_from(SearchOutbox)),
        }
    engine.dispose()
    return state


def _kill_at(world: World, args: list[str], delay: float) -> int:
    process = world.spawn(*args)
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()
    return process.returncode


def _kill_while_indexing(world: World, args: list[str], timeout: float = 300) -> tuple[int, float]:
    """Kill the process as soon as its change is committed and queued for the index, i.e. while it
    is writing the index after the commit; returns (exit code, seconds after start)."""
    from sqlalchemy import func, select

    from kb.models.search_outbox import SearchOutbox

    engine = world.engine()
    process = world.spawn(*args)
    started = time.monotonic()
    try:
        while process.poll() is None and time.monotonic() - started < timeout:
            with engine.connect() as connection:
                if connection.scalar(select(func.count()).select_from(SearchOutbox)):
                    process.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.01)
        process.wait()
    finally:
        engine.dispose()
    return process.returncode, time.monotonic() - started


def run_kill_import(database_url: str, runs: int, size: int) -> dict:
    world = World(database_url)
    world.kb("init")
    source = big_department(world.data_dir / "big.yaml", size)
    backup = world.data_dir / "clean"
    # Calibrate: how long a complete import takes (then undo it by restoring the clean state).
    world.kb("backup", str(backup))
    (clean,) = backup.iterdir()
    started = time.perf_counter()
    world.kb("load", str(source))
    full = time.perf_counter() - started
    rows = []
    for run in range(runs):
        world.kb("restore", "--yes", str(clean))
        delay = full * (0.1 + 0.9 * run / max(runs - 1, 1))
        code = _kill_at(world, ["load", str(source)], delay)
        state = _library_state(world, "990", "GZ")
        all_or_nothing = (state["department"], state["indicators"]) in ((0, 0), (1, size))
        integrity = world.integrity()
        check_before = world.kb("index", "check", check=False).returncode
        action = world.repair()
        check_after = world.kb("index", "check", check=False)
        rows.append({
            "kill_after_s": round(delay, 2), "exit": code, "committed": state["indicators"] == size,
            "queued_after_kill": state["outbox"], "integrity": integrity, "all_or_nothing": all_or_nothing,
            "index_check_before_repair": check_before, "repair": action, "index_check_after_repair": check_after.returncode,
        })
    world.cleanup()
    ok = all(r["all_or_nothing"] and r["integrity"] in ("ok", "n/a (PostgreSQL)") and r["index_check_after_repair"] == 0 for r in rows)
    return {"scenario": "kill-import", "database": database_url or "sqlite", "indicators": size,
            "full_import_s": round(full, 2), "runs": rows, "ok": ok}


def run_kill_index(database_url: str, runs: int, size: int) -> dict:
    world = World(database_url)
    world.kb("init")
    world.kb("load", str(big_department(world.data_dir / "big.yaml", size)))
    started = time.perf_counter()
    world.kb("index", "rebuild")
    full_rebuild = time.perf_counter() - started
    changed = big_department(world.data_dir / "changed.yaml", size, name_suffix="（修订）")
    started = time.perf_counter()
    world.kb("load", str(changed))
    full_update = time.perf_counter() - started
    world.kb("load", str(world.data_dir / "big.yaml"))
    rows = []
    for run in range(runs):
        rebuild = run % 2 == 0
        fraction = 0.15 + 0.8 * (run // 2) / max((runs - 1) // 2, 1)
        if rebuild:
            delay, args = full_rebuild * fraction, ["index", "rebuild"]
            code = _kill_at(world, args, delay)
        else:  # an update of every indicator, killed while its committed change is being indexed
            args = ["load", str(changed if run % 4 == 1 else world.data_dir / "big.yaml")]
            code, delay = _kill_while_indexing(world, args)
        state = _library_state(world, "990", "GZ")  # before anything starts: app start-up drains the queue
        searchable = _searchable(world)  # fresh processes: what a restarted worker sees
        queued_after_restart = _library_state(world, "990", "GZ")["outbox"]
        check = world.kb("index", "check", check=False)
        check_before = check.returncode
        action = world.repair()
        check_after = world.kb("index", "check", check=False)
        rows.append({
            "check_before_repair_says": check.stderr.strip().splitlines()[:2],
            "check_after_repair_says": check_after.stderr.strip().splitlines()[:2],
            "killed": " ".join(args[:2]).replace(str(world.data_dir) + "/", ""), "kill_after_s": round(delay, 2), "exit": code,
            "revised_names_in_db": _revised(world),
            "search_works_after_kill": searchable, "queued_after_kill": state["outbox"],
            "queued_after_restart": queued_after_restart,
            "index_check_before_repair": check_before, "repair": action, "index_check_after_repair": check_after.returncode,
            "integrity": world.integrity(),
        })
    world.cleanup()
    ok = all(r["search_works_after_kill"] and r["index_check_after_repair"] == 0 for r in rows)
    return {"scenario": "kill-index", "database": database_url or "sqlite", "indicators": size + 303,
            "full_rebuild_s": round(full_rebuild, 2), "full_update_s": round(full_update, 2), "runs": rows, "ok": ok}


def _searchable(world: World) -> bool:
    """A seed indicator is found by its code and by its name (a fresh process opens the index)."""
    found = []
    for text in ("JY-001", "受益学生人数"):
        result = world.kb("search", text, "--json", check=False)
        hits = json.loads(result.stdout or "{}").get("hits", []) if result.returncode == 0 else []
        found.append(any(hit["code"] == "JY-001" for hit in hits))
    return all(found)


def _revised(world: World) -> int:
    from sqlalchemy import func, select

    from kb.models import Indicator

    engine = world.engine()
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(Indicator).where(Indicator.name.like("%修订%")))
    engine.dispose()
    return count


# ---- disk full ----------------------------------------------------------------------------------

def run_disk_full(database_url: str, size_mb: int) -> dict:
    mount = Path(tempfile.mkdtemp(prefix="kb-tmpfs-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mount)], check=True)
    try:
        world = World(database_url, index_dir=mount / "index")
        world.kb("init")
        index_bytes = sum(p.stat().st_size for p in (mount / "index").rglob("*") if p.is_file())
        filler = mount / "filler"
        with open(filler, "wb") as stream:  # fill every free byte
            try:
                while True:
                    stream.write(b"\0" * 65536)
                    stream.flush()
            except OSError:
                pass
        free = shutil.disk_usage(mount).free
        edit = big_department(world.data_dir / "edit.yaml", 40, code="991", prefix="DF")
        load = world.kb("load", str(edit), check=False)
        state = _library_state(world, "991", "DF")
        check_full = world.kb("index", "check", check=False)
        rebuild = world.kb("index", "rebuild", check=False)
        searchable = _searchable(world)
        filler.unlink()
        action = world.repair()
        check_after = world.kb("index", "check", check=False)
        result = {
            "scenario": "disk-full", "database": database_url or "sqlite", "tmpfs_mb": size_mb,
            "index_bytes_before": index_bytes, "free_bytes_when_full": free,
            "load_exit": load.returncode, "load_stderr_tail": load.stderr.strip().splitlines()[-3:],
            "db_committed_while_index_full": state["indicators"] == 40, "queued_while_full": state["outbox"],
            "index_check_while_full": check_full.returncode,
            "rebuild_exit": rebuild.returncode, "rebuild_stderr_tail": rebuild.stderr.strip().splitlines()[-3:],
            "search_works_while_full": searchable, "repair_after_space_freed": action,
            "index_check_after_repair": check_after.returncode, "integrity": world.integrity(),
        }
        result["ok"] = (rebuild.returncode != 0 and searchable and check_after.returncode == 0
                        and "写入检索索引失败" in rebuild.stderr)
        world.cleanup()
        return result
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        mount.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["edits", "kill-import", "kill-index", "disk-full", "all"])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=100, help="saves per editor (edits)")
    parser.add_argument("--size", type=int, default=3000, help="indicators in the imported department")
    parser.add_argument("--tmpfs-mb", type=int, default=8)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    scenarios = ["edits", "kill-import", "kill-index", "disk-full"] if args.scenario == "all" else [args.scenario]
    results = []
    for scenario in scenarios:
        if scenario == "edits":
            result = run_edits(args.database_url, args.rounds)
        elif scenario == "kill-import":
            result = run_kill_import(args.database_url, args.runs, args.size)
        elif scenario == "kill-index":
            result = run_kill_index(args.database_url, args.runs, args.size)
        else:
            result = run_disk_full(args.database_url, args.tmpfs_mb)
        print(json.dumps(result, ensure_ascii=False, indent=1), flush=True)
        results.append(result)
    if args.report:
        args.report.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()

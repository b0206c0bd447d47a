"""The index follows the database (kb/indexing.py): outbox in the same transaction, applied after
commit under the writer lock, nothing from rolled-back work, drift detected, start-up repair, and
real processes editing concurrently or killed with SIGKILL while indexing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kb.db import make_session_factory
from kb.indexing import (
    INDICATOR_FIELDS, check_index, indicator_document, install_index_sync, rebuild_index, repair_index,
    search_options, settle, settle_all, sync_outbox,
)
from kb.models import Department, Indicator, IndicatorSet
from kb.models.search_outbox import SearchOutbox
from kb.schemas import IndicatorSchema
from kb.services.library import apply_indicator_fields
from kb.vocab import SetStatus
from search import Document, SearchQuery
from search.whoosh_backend import WhooshBackend
from tests.conftest import indicator_data

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def backend(tmp_path: Path):
    engine = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "index", **search_options())
    yield engine
    engine.close()


@pytest.fixture
def synced(engine: Engine, backend):
    """A session factory whose commits reach ``backend``."""
    factory = make_session_factory(engine)
    sync = install_index_sync(factory, backend)
    with factory() as session:
        rebuild_index(session, backend)
        session.commit()
    yield factory
    sync.close()


def add_indicator(session: Session, department=None, **overrides) -> Indicator:
    loaded = IndicatorSchema().load(indicator_data(**overrides))
    indicator = Indicator(code=loaded["code"], department=department, position=0)
    apply_indicator_fields(indicator, loaded)
    session.add(indicator)
    return indicator


def found(backend, text: str) -> list[str]:
    settle(backend, timeout=10)  # the outbox drains in the background: wait for what this process queued
    return [hit.key for hit in backend.search(SearchQuery(text=text)).hits]


def queued(engine: Engine) -> int:
    settle_all()
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(SearchOutbox))


def test_commit_does_not_wait_for_the_index(engine, synced, backend) -> None:
    """The index is written off the request path: a slow index write does not slow the commit."""
    original = backend.upsert

    def slow(documents):
        documents = list(documents)
        time.sleep(1.5)
        original(documents)

    backend.upsert = slow
    with synced() as session:
        add_indicator(session, code="T-099", name="后台写入测试率")
        started = time.perf_counter()
        session.commit()
        assert time.perf_counter() - started < 1.0
    assert queued_now(engine) == 1  # committed and queued, not yet in the index
    assert found(backend, "后台写入测试率")[0] == "T-099"  # searchable once the drainer is done
    assert queued(engine) == 0


def queued_now(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(SearchOutbox))


def test_committed_change_is_searchable_and_the_queue_drained(engine, synced, backend) -> None:
    with synced() as session:
        add_indicator(session, code="T-100", name="路灯亮灯测试率")
        session.commit()
    assert found(backend, "路灯亮灯测试率")[0] == "T-100"
    assert queued(engine) == 0
    with synced() as session:
        indicator = session.scalar(select(Indicator).where(Indicator.code == "T-100"))
        indicator.name = "校车接送测试率"
        session.commit()
    assert found(backend, "校车接送测试率")[0] == "T-100"
    assert "T-100" not in found(backend, "路灯")


def test_rolled_back_change_never_reaches_the_index(engine, synced, backend) -> None:
    with synced() as session:
        add_indicator(session, code="T-101", name="回滚测试覆盖率")
        session.flush()
        assert session.scalar(select(func.count()).select_from(SearchOutbox)) == 1  # queued in the transaction
        session.rollback()
    assert found(backend, "回滚测试覆盖率") == []
    assert queued(engine) == 0 and backend.count() == 0


def test_set_status_change_reindexes_the_department(engine, synced, backend) -> None:
    with synced() as session:
        department = Department(code="901", name="测试局", functions=[])
        session.add(IndicatorSet(department=department, year=2025, version=1, status=SetStatus.DRAFT, is_current=True))
        add_indicator(session, department, code="T-102", name="部门测试完成率")
        session.commit()
    settle(backend)
    assert backend.fingerprints()["T-102"]
    before = backend.fingerprints()["T-102"]
    with synced() as session:
        indicator_set = session.scalar(select(IndicatorSet))
        indicator_set.status = SetStatus.CERTIFIED
        session.commit()
        expected = indicator_document(session.scalar(select(Indicator))).fingerprint
    settle(backend)
    assert backend.fingerprints()["T-102"] == expected != before


def test_busy_writer_leaves_changes_queued_until_the_holder_drains(engine, synced, backend) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with backend.lock(timeout=5):
            holding.set()
            release.wait(10)
        sync_outbox(engine, backend)  # what any holder does after releasing

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    started = time.monotonic()
    with synced() as session:
        add_indicator(session, code="T-103", name="排队写入测试率")
        session.commit()  # must not raise although the index writer is busy
    assert time.monotonic() - started < 10
    assert queued(engine) == 1 and found(backend, "排队写入测试率") == []
    release.set()
    holder.join(10)
    assert queued(engine) == 0 and found(backend, "排队写入测试率")[0] == "T-103"


def test_check_reports_drift_and_rebuild_repairs_it(engine, synced, backend) -> None:
    with synced() as session:
        add_indicator(session, code="T-104", name="漂移检测合格率")
        add_indicator(session, code="T-105", name="漂移检测完成率")
        session.commit()
    settle_all()
    with Session(engine) as session:
        assert check_index(session, backend) == []
        stale = indicator_document(session.scalar(select(Indicator).where(Indicator.code == "T-104")))
    backend.upsert([stale.__class__(key="T-104", text=stale.text, facets=stale.facets, fingerprint="old")])
    backend.delete(["T-105"])
    backend.upsert([stale.__class__(key="GHOST-1", text={"name": "幽灵"}, fingerprint="x")])
    with Session(engine) as session:
        problems = check_index(session, backend)
        assert any("T-104" in p and "过期" in p for p in problems)
        assert any("T-105" in p and "没有" in p for p in problems)
        assert any("GHOST-1" in p for p in problems)
        rebuild_index(session, backend)
        session.commit()
        assert check_index(session, backend) == []


def test_start_up_repairs_a_missing_or_damaged_index(engine, synced, backend, tmp_path: Path) -> None:
    with synced() as session:
        add_indicator(session, code="T-106", name="启动修复测试率")
        session.commit()
    settle_all()
    generation = (tmp_path / "index" / "CURRENT").read_text().strip()
    for path in (tmp_path / "index" / generation).glob("*.toc"):
        path.write_bytes(b"garbage")  # what a crash mid-commit can leave
    backend.close()
    assert not backend.is_ready()
    assert repair_index(engine, backend) == "rebuilt"
    assert found(backend, "启动修复测试率")[0] == "T-106"
    with Session(engine) as session:
        assert check_index(session, backend) == []


def test_start_up_applies_queued_updates(engine, backend) -> None:
    plain = make_session_factory(engine)  # no sync installed: like a process killed after commit
    with plain() as session:
        rebuild_index(session, backend)
        session.commit()
        add_indicator(session, code="T-107", name="启动补写测试率")
        session.add(SearchOutbox(key="T-107"))
        session.commit()
    assert repair_index(engine, backend) == "rebuilt"  # the count differs: rebuilt, and the queue emptied
    assert queued(engine) == 0 and found(backend, "启动补写测试率")[0] == "T-107"


WORKER = textwrap.dedent("""
    import os, sys, time
    from sqlalchemy import select
    from kb.db import make_engine, make_session_factory
    from kb.indexing import INDICATOR_FIELDS, install_index_sync, search_options
    from kb.models import Indicator
    from search.whoosh_backend import WhooshBackend

    url, index_dir, prefix, count, pause = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    engine = make_engine(url)
    factory = make_session_factory(engine)
    backend = WhooshBackend(INDICATOR_FIELDS, index_dir=index_dir, **search_options())
    if pause:  # stop inside the index write, after the database commit, so the parent can kill -9 us
        original = backend.upsert
        def slow(documents):
            documents = list(documents)
            print("indexing", flush=True)
            time.sleep(pause)
            original(documents)
        backend.upsert = slow
    install_index_sync(factory, backend)
    from sqlalchemy.orm.exc import StaleDataError
    for n in range(count):
        while True:  # the other worker edited the same row: reload and apply the edit again (EditConflict)
            with factory() as session:
                indicator = session.scalar(select(Indicator).where(Indicator.code == "T-200"))
                indicator.keywords = list(indicator.keywords or []) + [f"{prefix}{n}"]
                try:
                    session.commit()
                    break
                except StaleDataError:
                    session.rollback()
    from kb.indexing import settle_all
    settle_all(120)  # the outbox drains in the background: let it finish before saying done
    print("done", flush=True)
""")


def _worker(database_url: str, index_dir: Path, prefix: str, count: int, pause: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url, str(index_dir), prefix, str(count), str(pause)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.slow
def test_two_processes_editing_concurrently_lose_no_index_update(engine, synced, backend, database_url,
                                                                  tmp_path: Path) -> None:
    with synced() as session:
        add_indicator(session, code="T-200", name="并发写入测试率", keywords=[])
        session.commit()
    workers = [_worker(database_url, tmp_path / "index", prefix, 8) for prefix in ("甲", "乙")]
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
        assert "LockError" not in err
    with Session(engine) as session:
        keywords = session.scalar(select(Indicator).where(Indicator.code == "T-200")).keywords
        assert check_index(session, backend) == []
    assert len(keywords) == 16  # row_version turns a concurrent edit into a conflict that is retried, never lost
    assert set(found(backend, "甲7")) == set(found(backend, "乙7")) == {"T-200"}
    assert queued(engine) == 0


@pytest.mark.slow
def test_kill_9_during_indexing_is_repaired_at_start_up(engine, synced, backend, database_url, tmp_path: Path,
                                                         runner) -> None:
    with synced() as session:
        add_indicator(session, code="T-200", name="崩溃恢复测试率", keywords=[])
        session.commit()
    worker = _worker(database_url, tmp_path / "index", "丙", 1, pause=30)
    assert worker.stdout.readline().strip() == "indexing"  # committed to the database, not yet to the index
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=10)
    with Session(engine) as session:
        assert check_index(session, backend)  # drift: the queued update is not in the index
    assert queued(engine) == 1
    from kb.models.base import Base  # noqa: F401 - the CLI below reopens the same database and index

    env = {"SEARCH_INDEX_DIR": str(tmp_path / "index")}
    result = runner.invoke(_cli(), ["index", "check"], env=env)
    assert result.exit_code == 1 and "T-200" in result.output  # check sees the drift, repairs nothing
    assert queued(engine) == 1
    from webapp import create_app, repair_search_index

    app = create_app({"SEARCH_INDEX_DIR": str(tmp_path / "index"), "KB_DATA_DIR": str(tmp_path / "data"),
                      "DATABASE_URL": database_url, "KB_SECRET_KEY": "test"})
    try:
        assert queued(engine) == 1  # building the app does no index work
        assert repair_search_index(app) in ("synced", "rebuilt")  # what kb serve does before serving
    finally:
        app.extensions["kb"].close()
    assert queued(engine) == 0
    assert "T-200" in found(backend, "丙0")
    assert runner.invoke(_cli(), ["index", "check"], env=env).exit_code == 0


def _cli():
    from webapp.cli import main

    return main


def test_cli_check_reports_drift_and_rebuild_repairs_it(runner, tmp_path: Path) -> None:
    cli = _cli()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["index", "check"]).exit_code == 0
    index = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "data" / "index", **search_options())
    stale = index.search(SearchQuery(text="预算执行率")).hits[0].key
    index.upsert([Document(key=stale, text={"name": "过期内容"}, fingerprint="stale")])
    index.close()
    result = runner.invoke(cli, ["index", "check"])
    assert result.exit_code == 1 and stale in result.output and "kb index rebuild" in result.output
    assert runner.invoke(cli, ["index", "rebuild"]).exit_code == 0
    assert runner.invoke(cli, ["index", "check"]).exit_code == 0


def test_cli_check_sees_a_missing_document_and_leaves_it_missing(runner, tmp_path: Path) -> None:
    """``kb index check`` reports drift; it must not repair it on the way (create_app does no index work)."""
    cli = _cli()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    index = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "data" / "index", **search_options())
    gone = index.search(SearchQuery(text="预算执行率")).hits[0].key
    index.delete([gone])
    index.close()
    for _ in range(2):  # the second check still finds it: the first one did not rebuild
        result = runner.invoke(cli, ["index", "check"])
        assert result.exit_code == 1 and f"指标 {gone} 在数据库中存在，但索引中没有" in result.output
    index = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "data" / "index", **search_options())
    assert gone not in index.fingerprints()
    index.close()
    assert runner.invoke(cli, ["index", "rebuild"]).exit_code == 0
    assert runner.invoke(cli, ["index", "check"]).exit_code == 0


def test_rebuild_reports_reading_then_writing_every_document(seeded: Session, tmp_path: Path, monkeypatch) -> None:
    from search import whoosh_build

    monkeypatch.setattr(whoosh_build, "PARALLEL_FROM", 1)  # two workers even for the seed
    backend = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "index", build_procs=2, **search_options())
    events: list = []
    try:
        count = rebuild_index(seeded, backend, progress=events.append, stage=events.append)
    finally:
        backend.close()
    switch = events.index("write")
    assert events[:switch] == [1] * count  # read one by one from the database
    assert sum(events[switch + 1:]) == count and len(events) > switch + 1  # then written, reported by the workers


def test_cli_rebuild_progress_shows_both_stages_with_rate_and_time_left(monkeypatch) -> None:
    import io

    from webapp.cli import RebuildProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with RebuildProgress(10) as bar:
        bar.update(10)
        bar.stage("write")
        assert (bar.bar.n, bar.bar.total) == (0, 10)  # the writing stage counts from zero again
        bar.update(4)
        bar.bar.refresh()
    shown = screen.getvalue()
    assert shown.index("读取指标") < shown.index("写入检索索引")
    writing = shown[shown.index("写入检索索引"):]
    assert "4/10" in writing and "项/s" in writing and "<" in writing  # rate and time left

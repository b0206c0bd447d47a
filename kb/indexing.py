"""Keeping the search index in step with the database (REL-4 in security.md).

Every flush that changes searchable data queues the affected indicator codes in the
``search_outbox`` table, in the same transaction: a rolled-back change queues nothing, a committed
one cannot be forgotten. After the commit a background thread (:class:`IndexSync`, off the request
path) drains the queue under the backend's single-writer lock: documents are built from the committed rows *while holding the lock*, so two workers
committing edits of the same indicator in quick succession always leave the newer one in the index.
Whatever a crash (kill -9) leaves queued is drained by the next commit or at start-up;
``rebuild_index`` builds a fresh index and swaps it in, ``check_index`` reports drift.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from inspect import signature

from sqlalchemy import Engine, delete, func, insert, inspect, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from kb.db import SessionListeners, listen_to_sessions, stop_listening
from kb.live_synonyms import forget_live_synonyms, install_live_synonyms, refresh_synonyms
from kb.meanings import in_chunks, meaning_fingerprint, with_meanings
from kb.models import Department, Indicator, IndicatorBasis, IndicatorSet
from kb.models.search_outbox import SearchOutbox
# The backend's options are read there; callers have always imported them from here.
from kb.search_options import read_thesaurus, search_options, sentence_model, word_vectors  # noqa: F401
from kb.vocab import IndicatorState, SetStatus
from search.base import BaseBackend, Document, FieldSpec
from search.meaning import SentenceModel

# Where a match counts most: the name, then keywords/projects, then the explanation.
# Fields sharing a group are indexed as one Whoosh field: fewer fields make queries faster.
INDICATOR_FIELDS = (
    FieldSpec("code", 20.0, exact=True),
    FieldSpec("name", 8.0, exact=True, highlight=True, title=True),
    FieldSpec("keywords", 4.0, dictionary=True, group="terms"),
    FieldSpec("projects", 4.0, dictionary=True, group="terms"),
    FieldSpec("definition", 1.5, highlight=True, group="body"),
    FieldSpec("formula", 1.5, group="body"),
    FieldSpec("department", 1.0, dictionary=True, group="context"),
    FieldSpec("level", 1.0, group="context"),
)
# The facets of every document: what a search counts and what it can be filtered by (the page, the API
# and kb.searching all take their filter keys from here).
FACETS = ("department", "level1", "level2", "nature", "unit", "status", "state", "kind")
COMMON_STATUS = "common"
RETIRED_RANK = 0.3
UNCERTIFIED_RANK = 0.85

_QUEUED = "kb.index.queued"
# A committing request waits this long for the index writer; if another process holds it (e.g. a
# rebuild), the queued keys stay in the outbox and that process drains them when it is done.
SYNC_WAIT_SECONDS = 2.0
OUTBOX_BATCH = 2000
# A search waits at most this long for this process's own queued updates (read-your-writes).
SETTLE_SECONDS = 2.0
# At interpreter exit, how long to let the drainer finish (what is left stays queued for start-up).
SHUTDOWN_WAIT_SECONDS = 5.0
log = logging.getLogger(__name__)


def indicator_document(indicator: Indicator) -> Document:
    """The search document of an indicator (its department and current set must be loadable)."""
    department = indicator.department
    current = department.current_set if department else None
    status = str(current.status) if current else (COMMON_STATUS if department is None else SetStatus.DRAFT.value)
    text = {
        "code": indicator.code,
        "name": indicator.name,
        "keywords": " ".join(indicator.keywords or ()),
        "projects": " ".join(indicator.projects or ()),
        "definition": indicator.definition,
        "formula": indicator.formula,
        "department": department.name if department else "共性指标",
        "level": f"{indicator.level1} {indicator.level2}",
    }
    facets = {
        "department": department.code if department else "",
        "level1": indicator.level1,
        "level2": indicator.level2,
        "nature": str(indicator.nature),
        "unit": indicator.unit,
        "status": status,
        "state": str(indicator.state),
        "kind": "共性" if department is None else "个性",
        "project": (indicator.projects or [""])[0],  # not counted; lets a description pull in its project
    }
    rank = 1.0
    if indicator.state == IndicatorState.RETIRED:
        rank = RETIRED_RANK
    elif status not in (SetStatus.CERTIFIED.value, COMMON_STATUS):
        rank = UNCERTIFIED_RANK
    digest = hashlib.sha1(
        json.dumps([text, facets, rank], ensure_ascii=False, sort_keys=True).encode("utf-8")
    ).hexdigest()
    return Document(key=indicator.code, text=text, facets=facets, rank=rank, fingerprint=digest)


def _indicators_query():
    return select(Indicator).options(
        selectinload(Indicator.department).selectinload(Department.indicator_sets),
    )


def iter_documents(session: Session, batch_size: int = 1000) -> Iterator[Document]:
    """Every indicator's document, in code order, streamed in batches."""
    offset = 0
    while True:
        batch = session.scalars(_indicators_query().order_by(Indicator.code).offset(offset).limit(batch_size)).all()
        if not batch:
            return
        for indicator in batch:
            yield indicator_document(indicator)
        offset += batch_size


def documents_for(session: Session, codes: Iterable[str], meaning: SentenceModel | None = None
                  ) -> tuple[list[Document], set[str]]:
    """The documents of the indicators with ``codes`` (with ``meaning``'s vectors), and the codes that no longer exist."""
    codes = set(codes)
    found = session.scalars(_indicators_query().where(Indicator.code.in_(codes))).all() if codes else []
    return with_meanings(session, [indicator_document(i) for i in found], meaning), codes - {i.code for i in found}


def rebuild_index(session: Session, backend: BaseBackend, progress: Callable[[int], None] | None = None,
                  stage: Callable[[str], None] | None = None) -> int:
    """Build a fresh index from the database and swap it in; return the number of documents.

    The documents are streamed from the database, never held all at once. ``progress`` is called with
    the number of documents handled: as they are read and, when ``stage`` is given and the backend reports
    its writing (Whoosh builds in several processes), as they are written; ``stage("write")`` marks the
    switch. Queued updates older than the rebuild are dropped from the outbox (the new index has them);
    newer ones stay queued for :func:`sync_outbox`. The caller commits.
    """

    def documents() -> Iterator[Document]:
        for document in in_chunks(session, iter_documents(session), backend.meaning):
            if progress:
                progress(1)
            yield document
        if stage:
            stage("write")  # every document is read: what follows is writing the index

    options = {}
    if progress and stage and "progress" in signature(backend.rebuild).parameters:
        options["progress"] = progress
    with backend.lock(timeout=None):
        queued_before = session.scalar(select(func.max(SearchOutbox.id)))
        count = backend.rebuild(documents(), **options)
        if queued_before is not None:
            session.execute(delete(SearchOutbox).where(SearchOutbox.id <= queued_before))
    return count


def check_index(session: Session, backend: BaseBackend) -> list[str]:
    """Differences between index and database, one Chinese line each (empty when in step)."""
    if not backend.is_ready():
        return ["检索索引不存在或已损坏，无法打开。"]
    expected = {d.key: meaning_fingerprint(d.fingerprint, backend.meaning) for d in iter_documents(session)}
    actual = backend.fingerprints()
    problems = [f"指标 {key} 在数据库中存在，但索引中没有。" for key in sorted(expected.keys() - actual.keys())]
    problems += [f"指标 {key} 已不在数据库中，但索引中仍有。" for key in sorted(actual.keys() - expected.keys())]
    problems += [
        f"指标 {key} 的索引内容与数据库不一致（索引过期）。"
        for key in sorted(expected.keys() & actual.keys())
        if expected[key] != actual[key]
    ]
    queued = session.scalar(select(func.count()).select_from(SearchOutbox))
    if queued:
        problems.append(f"还有 {queued} 条索引更新在队列中尚未写入。")
    elif not problems and hasattr(backend, "statistics_drift"):
        # Every document current, yet ranking may differ from a fresh build: compare the statistics too.
        problems += backend.statistics_drift(iter_documents(session))
    return problems


def sync_outbox(engine: Engine, backend: BaseBackend, timeout: float | None = SYNC_WAIT_SECONDS) -> int:
    """Apply queued index updates; return how many queue rows were applied.

    Holds the backend's writer lock while reading the queue, building documents from the committed
    rows and writing them, so the newest committed state always wins. When the lock is not free
    within ``timeout`` the rows stay queued: the holder drains again after releasing it.
    """
    applied = 0
    while True:
        with backend.lock(timeout) as held:
            if not held:
                return applied
            with Session(bind=engine) as session:
                rows = session.execute(
                    select(SearchOutbox.id, SearchOutbox.key).order_by(SearchOutbox.id).limit(OUTBOX_BATCH)
                ).all()
                if not rows:
                    return applied
                documents, missing = documents_for(session, {key for _, key in rows}, backend.meaning)
                backend.upsert(documents)
                backend.delete(missing)
                session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_([row_id for row_id, _ in rows])))
                session.commit()
                applied += len(rows)
        # The lock is released: look again for rows queued by writers that gave up waiting for it.


class IndexSync:
    """Drains the outbox off the request path: one background thread per process and backend, woken
    after each commit that queued index updates.

    Guarantees as before: documents are written only after the database commit (the drainer reads the
    committed rows), nothing is lost (a queue row is deleted only after the index has the change; a crash
    leaves it for the next drain or start-up), and a change is searchable within about a second.
    :meth:`flush` waits for what this process has queued so far (searches call it, so whoever saved a
    change finds it; tests call it too).
    """

    def __init__(self, backend: BaseBackend) -> None:
        self.backend = backend
        self._engine: Engine | None = None
        self._condition = threading.Condition()
        self._requested = self._done = 0
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        self.listeners: SessionListeners = []

    def notify(self, engine: Engine) -> None:
        """A commit queued updates: have them applied soon (never blocks on the index)."""
        with self._condition:
            if self._pid != os.getpid():  # a forked child: the parent's thread does not exist here
                self._pid, self._thread, self._requested, self._done = os.getpid(), None, 0, 0
            self._engine = engine
            self._requested += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kb-index-sync", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._requested > self._done or self._closed)
                if self._requested <= self._done:  # closed with nothing left to drain
                    return
                target, engine = self._requested, self._engine
            try:
                sync_outbox(engine, self.backend)
            except Exception:  # the change is committed and queued; the next drain or start-up applies it
                log.exception("检索索引更新失败，已保留在队列中，稍后重试")
            with self._condition:
                self._done = max(self._done, target)
                self._condition.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything this process queued so far was drained (or tried); False on timeout."""
        with self._condition:
            if self._pid != os.getpid() or self._thread is None:
                return True
            target = self._requested
            return self._condition.wait_for(lambda: self._done >= target, timeout)

    def close(self, timeout: float | None = SHUTDOWN_WAIT_SECONDS) -> None:
        """Drain what was queued, then end the thread, so no connection outlives the engine's disposal
        (what is still queued after ``timeout`` stays in the outbox for the next drain or start-up)."""
        self.flush(timeout)
        with self._condition:
            self._closed = True
            thread, self._thread = self._thread, None
            self._condition.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        _SYNCS.pop(self.backend, None)
        stop_listening(self.listeners)
        forget_live_synonyms(self.backend)


_SYNCS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def settle(backend: BaseBackend, timeout: float = SETTLE_SECONDS) -> None:
    """Let this process's queued index updates land before reading ``backend`` (read-your-writes)."""
    sync = _SYNCS.get(backend)
    if sync is not None:
        sync.flush(timeout)
    refresh_synonyms(backend)  # finance's synonym edits, checked every few seconds (kb/live_synonyms.py)


def settle_all(timeout: float = SETTLE_SECONDS) -> None:
    """Let every queued index update of this process land (tests, and commands about to exit)."""
    for sync in list(_SYNCS.values()):
        sync.flush(timeout)


# Commands and servers that exit let their queued updates land first. One hook for all syncs: a hook
# per sync would keep every backend (and its index caches) alive until exit.
atexit.register(settle_all, SHUTDOWN_WAIT_SECONDS)


def install_index_sync(factory: sessionmaker[Session], backend: BaseBackend) -> IndexSync:
    """Make every session from ``factory`` queue its indicator changes; they are applied after commit by
    the returned :class:`IndexSync` in the background."""
    sync = _SYNCS.get(backend) or IndexSync(backend)
    _SYNCS[backend] = sync
    install_live_synonyms(factory, backend)

    def queue(session: Session, _context) -> None:
        codes: set[str] = set()
        for instance in (*session.new, *session.dirty, *session.deleted):
            codes |= _affected_codes(session, instance)
        if codes:
            session.connection().execute(insert(SearchOutbox), [{"key": code} for code in sorted(codes)])
            session.info[_QUEUED] = True

    def publish(session: Session) -> None:
        if session.info.pop(_QUEUED, False):
            sync.notify(session.get_bind())

    def discard(session: Session) -> None:
        session.info.pop(_QUEUED, None)

    sync.listeners += listen_to_sessions(factory, after_flush=queue, after_commit=publish, after_rollback=discard)
    return sync


def repair_index(engine: Engine, backend: BaseBackend) -> str:
    """Start-up repair: rebuild a missing, unreadable or incomplete index, else apply queued updates.

    Returns what was done (``"rebuilt"``, ``"synced"``, ``"skipped"`` when the schema does not exist yet).
    """
    if not inspect(engine).has_table(SearchOutbox.__tablename__):
        return "skipped"
    with backend.lock(timeout=None):
        with Session(bind=engine) as session:
            expected = session.scalar(select(func.count()).select_from(Indicator))
            if not backend.is_ready() or backend.count() != expected:
                rebuild_index(session, backend)
                session.commit()
                action = "rebuilt"
            else:
                action = "synced"
    sync_outbox(engine, backend, timeout=None)
    return action


def _affected_codes(session: Session, instance: object) -> set[str]:
    if isinstance(instance, Indicator):
        return {instance.code}
    if isinstance(instance, IndicatorBasis) and instance.indicator is not None:
        return {instance.indicator.code}
    if isinstance(instance, IndicatorSet) and instance.department_id is not None:
        return set(session.scalars(select(Indicator.code).where(Indicator.department_id == instance.department_id)))
    if isinstance(instance, Department) and instance.id is not None:
        return set(session.scalars(select(Indicator.code).where(Indicator.department_id == instance.id)))
    return set()

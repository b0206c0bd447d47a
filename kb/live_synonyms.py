"""Finance's synonym edits reach search without a restart, in every process (gunicorn workers).

Each process keeps the synonyms generation it last applied (:func:`kb.services.synonyms.synonyms_generation`
and the rejected guesses' :func:`kb.services.rejected_guesses.rejections_generation`: small aggregate queries).
Before a search (:func:`kb.indexing.settle`) :func:`refresh_synonyms` compares it with the database at most
every :data:`REFRESH_SECONDS`, not on every search; when it changed, the active groups and rejected guesses are
read and swapped into the backend at once (``RankedBackend.set_synonyms``). A commit of this process that
changed either marks it due at once (read-your-writes for the person editing).
While the table is empty (not seeded) the backend keeps the groups of ``synonyms.yaml`` it was built with.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from kb.db import SessionListeners, listen_to_sessions, stop_listening
from kb.models.synonym_group import RejectedGuess, SynonymGroup
from kb.services.rejected_guesses import live_rejections, rejections_generation
from kb.services.synonyms import live_groups, read_synonyms_file, synonyms_generation
from search.base import BaseBackend

# How stale another worker's synonyms may be: one tiny query per process per this many seconds.
REFRESH_SECONDS = 5.0
EMPTY = (0, 0, 0, 0)  # unseeded groups, no rejected guess: the YAML groups the backend starts with
_CHANGED = "kb.synonyms.changed"
log = logging.getLogger(__name__)


class LiveSynonyms:
    """Keeps one backend's synonym groups in step with the ``synonym_groups`` table."""

    def __init__(self, factory: sessionmaker[Session], backend: BaseBackend, interval: float = REFRESH_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._factory = factory
        self._backend = weakref.ref(backend)
        self.interval = interval
        self.clock = clock
        self.generation = EMPTY
        self._checked_at: float | None = None
        self._due = True
        self._lock = threading.Lock()
        self.listeners: SessionListeners = []

    def mark_due(self) -> None:
        """Check at the next search (this process just committed a change)."""
        self._due = True

    def refresh(self) -> bool:
        """Swap in the database's groups if they changed since the last check; True when swapped.
        Cheap when not due; a failing check (e.g. a database not yet upgraded) keeps the current groups."""
        now = self.clock()
        if not self._due and self._checked_at is not None and now - self._checked_at < self.interval:
            return False
        backend = self._backend()
        setter = getattr(backend, "set_synonyms", None)
        if setter is None or not self._lock.acquire(blocking=False):  # another thread is checking right now
            return False
        try:
            self._checked_at, self._due = now, False
            with self._factory() as session:
                generation = synonyms_generation(session) + rejections_generation(session)
                if generation == self.generation:
                    return False
                groups = live_groups(session)
                rejected = live_rejections(session)
            if groups is None:  # emptied (e.g. restored from an older backup): back to the file
                groups = [group.terms for group in read_synonyms_file().groups]
            setter(groups, rejected)
            self.generation = generation
            log.info("检索同义词已更新（%d 组，排除猜测 %d 条，版本 %s）", len(groups), len(rejected), generation)
            return True
        except SQLAlchemyError:
            log.warning("读取检索同义词失败，继续使用现有同义词", exc_info=True)
            return False
        finally:
            self._lock.release()


_LIVE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def forget_live_synonyms(backend: BaseBackend) -> None:
    """Stop keeping ``backend``'s synonyms live (its app is closing). The entry holds the session factory,
    whose listeners hold the backend: left here, a closed app's index caches would live until exit."""
    live = _LIVE.pop(backend, None)
    if live is not None:
        stop_listening(live.listeners)


def install_live_synonyms(factory: sessionmaker[Session], backend: BaseBackend) -> LiveSynonyms:
    """Keep ``backend``'s synonyms live; sessions of ``factory`` that commit a group change make it due."""
    live = _LIVE.get(backend)
    if live is None:
        live = _LIVE[backend] = LiveSynonyms(factory, backend)

    def note_change(session: Session, _context) -> None:
        if any(isinstance(instance, (SynonymGroup, RejectedGuess)) for instance in (*session.new, *session.dirty)):
            session.info[_CHANGED] = True

    def publish(session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            live.mark_due()

    def discard(session: Session) -> None:
        session.info.pop(_CHANGED, None)

    live.listeners += listen_to_sessions(factory, after_flush=note_change, after_commit=publish,
                                         after_rollback=discard)
    return live


def live_synonyms(backend: BaseBackend) -> LiveSynonyms | None:
    """The refresher of ``backend`` (None when not installed)."""
    return _LIVE.get(backend)


def refresh_synonyms(backend: BaseBackend) -> None:
    """Before a search: swap in changed synonym groups if the check is due (see :class:`LiveSynonyms`)."""
    live = _LIVE.get(backend)
    if live is not None:
        live.refresh()

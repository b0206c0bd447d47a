"""A re-entrant lock shared by threads and processes (one index writer at a time).

Whoosh raises ``LockError`` at once when a second writer opens; several gunicorn workers write the
same index, so every write goes through this lock first and Whoosh's own lock is always free.
The OS releases the lock when a holder dies (kill -9 leaves nothing stale).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt


class InterProcessLock:
    """Exclusive lock on ``path``; re-entrant within a thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._handle = None

    def acquire(self, timeout: float | None = None, delay: float = 0.02) -> bool:
        """Wait up to ``timeout`` seconds (None: forever); True when held."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            return False
        if self._depth:
            self._depth += 1
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")
        while True:
            if _try_lock(handle):
                self._handle = handle
                self._depth = 1
                return True
            if deadline is not None and time.monotonic() >= deadline:
                handle.close()
                self._thread_lock.release()
                return False
            time.sleep(delay)

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._handle is not None:
            _unlock(self._handle)
            self._handle.close()
            self._handle = None
        self._thread_lock.release()


def _try_lock(handle) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def _unlock(handle) -> None:
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

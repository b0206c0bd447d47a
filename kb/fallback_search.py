"""When the search index is lost (issue 14 item 13): notice it, rebuild it in the background, and
answer meanwhile from the database.

A search that finds nothing costs one more cheap question: is the index there at all
(:func:`index_lost`)? If not, :func:`start_rebuild` rebuilds it in a background thread — one rebuild
at a time in this process (a lock), and the engine's own writer lock keeps other processes from
building at the same time — while :func:`search_database` answers with a plain ``LIKE`` over name,
definition and keywords, so people still find indicators and are told “检索索引正在重建”.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from kb.indexing import rebuild_index
from kb.models import Department, Indicator
from search.base import BaseBackend

log = logging.getLogger(__name__)
REBUILDING = "检索索引正在重建，暂时按名称、解释和关键词在数据库中查找，结果可能不如平时全面；请稍后再试。"
_REBUILD_LOCK = threading.Lock()
_threads: list[threading.Thread] = []


def index_lost(session: Session, backend: BaseBackend) -> bool:
    """True when the index cannot be opened, or is empty while the library is not."""
    if not backend.is_ready():
        return True
    return backend.count() == 0 and session.scalar(select(func.count()).select_from(Indicator)) > 0


def is_rebuilding() -> bool:
    return _REBUILD_LOCK.locked()


def start_rebuild(session: Session, backend: BaseBackend) -> bool:
    """Rebuild the index in a background thread unless one is running; True when this call started it."""
    if not _REBUILD_LOCK.acquire(blocking=False):
        return False
    engine = session.get_bind()

    def run() -> None:
        try:
            with Session(engine) as own:
                count = rebuild_index(own, backend)
                own.commit()
            log.warning("检索索引丢失，已在后台重建（%d 条）", count)
        except Exception:  # logged for the operator; the next search notices and tries again
            log.exception("后台重建检索索引失败")
        finally:
            _REBUILD_LOCK.release()

    thread = threading.Thread(target=run, name="kb-index-rebuild", daemon=True)
    _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
    thread.start()
    return True


def wait_for_rebuild(timeout: float | None = None) -> None:
    """Wait for a background rebuild of this process (tests, and commands about to exit)."""
    for thread in list(_threads):
        thread.join(timeout)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_database(session: Session, text: str, filters: dict, hidden: tuple[str, ...], limit: int,
                    offset: int) -> tuple[int, list[str]]:
    """``(total, codes)`` of indicators whose name, definition or keywords contain every word of
    ``text`` (names first), with the department/level/nature/unit/kind filters, without ``hidden``."""
    query = select(Indicator.code).outerjoin(Department, Indicator.department_id == Department.id)
    for word in text.split()[:10]:
        pattern = _like(word[:100])
        query = query.where(or_(Indicator.name.like(pattern, escape="\\"),
                                Indicator.definition.like(pattern, escape="\\"),
                                cast(Indicator.keywords, String).like(pattern, escape="\\")))
    simple = {"level1": Indicator.level1, "level2": Indicator.level2, "unit": Indicator.unit}
    for key, value in filters.items():
        values = (value,) if isinstance(value, str) else tuple(value)
        if key in simple:
            query = query.where(simple[key].in_(values))
        elif key == "department":
            query = query.where(Department.code.in_(values))
        elif key == "nature":
            query = query.where(cast(Indicator.nature, String).in_(values))
        elif key == "kind":
            query = query.where(Indicator.department_id.is_(None) if "共性" in values else Indicator.department_id.is_not(None))
    if hidden:
        query = query.where(Indicator.code.not_in(hidden))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    first_word = _like(text.split()[0][:100]) if text.split() else "%"
    ordered = query.order_by(Indicator.name.like(first_word, escape="\\").desc(), Indicator.code)
    return total, list(session.scalars(ordered.limit(limit).offset(offset)))

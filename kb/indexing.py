"""Keeping the search index in step with the database.

Documents are built inside the transaction (before commit) and handed to the backend only after
the commit succeeded; a rollback drops them. ``rebuild_index`` and ``check_index`` repair and
detect drift.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from kb.models import Department, Indicator, IndicatorBasis, IndicatorSet
from kb.vocab import IndicatorState, SetStatus
from search.base import BaseBackend, Document, FieldSpec

# Where a match counts most: the name, then keywords/projects, then the explanation.
INDICATOR_FIELDS = (
    FieldSpec("code", 20.0),
    FieldSpec("name", 8.0),
    FieldSpec("keywords", 4.0),
    FieldSpec("projects", 3.0),
    FieldSpec("definition", 1.5),
    FieldSpec("formula", 1.0),
    FieldSpec("department", 1.0),
    FieldSpec("level", 1.0),
)
FACETS = ("department", "level1", "level2", "nature", "unit", "status", "state", "kind")
COMMON_STATUS = "common"
RETIRED_RANK = 0.3
UNCERTIFIED_RANK = 0.85

_PENDING = "kb.index.pending"
_DOCUMENTS = "kb.index.documents"


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


def rebuild_index(session: Session, backend: BaseBackend, progress: Callable[[int], None] | None = None) -> int:
    """Build a fresh index from the database and swap it in; return the number of documents."""

    def documents() -> Iterable[Document]:
        for document in iter_documents(session):
            if progress:
                progress(1)
            yield document

    return backend.rebuild(documents())


def check_index(session: Session, backend: BaseBackend) -> list[str]:
    """Differences between index and database, one Chinese line each (empty when in step)."""
    expected = {document.key: document.fingerprint for document in iter_documents(session)}
    actual = backend.fingerprints()
    problems = [f"指标 {key} 在数据库中存在，但索引中没有。" for key in sorted(expected.keys() - actual.keys())]
    problems += [f"指标 {key} 已不在数据库中，但索引中仍有。" for key in sorted(actual.keys() - expected.keys())]
    problems += [
        f"指标 {key} 的索引内容与数据库不一致（索引过期）。"
        for key in sorted(expected.keys() & actual.keys())
        if expected[key] != actual[key]
    ]
    return problems


def install_index_sync(factory: sessionmaker[Session], backend: BaseBackend) -> None:
    """Make every session from ``factory`` push its indicator changes to ``backend`` after commit."""

    @event.listens_for(factory, "after_flush")
    def collect(session: Session, _context) -> None:
        pending = session.info.setdefault(_PENDING, set())
        for instance in (*session.new, *session.dirty, *session.deleted):
            pending.update(_affected_codes(session, instance))

    @event.listens_for(factory, "before_commit")
    def build(session: Session) -> None:
        session.flush()
        codes = session.info.pop(_PENDING, set())
        if not codes:
            return
        found = session.scalars(_indicators_query().where(Indicator.code.in_(codes))).all()
        documents = [indicator_document(indicator) for indicator in found]
        deleted = codes - {indicator.code for indicator in found}
        session.info[_DOCUMENTS] = (documents, deleted)

    @event.listens_for(factory, "after_commit")
    def publish(session: Session) -> None:
        documents, deleted = session.info.pop(_DOCUMENTS, ([], set()))
        if documents:
            backend.upsert(documents)
        if deleted:
            backend.delete(deleted)

    @event.listens_for(factory, "after_rollback")
    def discard(session: Session) -> None:
        session.info.pop(_PENDING, None)
        session.info.pop(_DOCUMENTS, None)


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

"""Sentence vectors for the indicators' search documents (search/meaning.py), kept in the database by digest.

Encoding an indicator takes tens of milliseconds on a CPU; its vector only changes when its name or definition
does. So each vector is stored once under the digest of the model and the text (table ``meaning_vectors``): a
rebuild, another worker or the next `kb index rebuild` finds it there, and only new wording is encoded.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kb.models import MeaningVector
from search.base import Document
from search.meaning import SentenceModel, pack, passage_text

# How many documents are looked up (and encoded) together.
CHUNK = 256


def meaning_fingerprint(fingerprint: str, model: SentenceModel | None) -> str:
    """A document's fingerprint when it carries ``model``'s vector: switching the model on, off or to another
    one makes every document stale, so `kb index check` reports it and a rebuild repairs it."""
    if model is None:
        return fingerprint
    return hashlib.sha1(f"{fingerprint}|{model.name}".encode()).hexdigest()


def _digest(model: SentenceModel, text: str) -> str:
    return hashlib.sha1(f"{model.name}\n{text}".encode()).hexdigest()


def with_meanings(session: Session, documents: list[Document], model: SentenceModel | None,
                  encoded: Callable[[int], None] | None = None) -> list[Document]:
    """``documents`` carrying ``model``'s vectors (unchanged when there is no model). Vectors missing from the
    database are encoded and added to the session's transaction; ``encoded`` is told how many were."""
    if model is None or not documents:
        return documents
    texts = [passage_text(d.text.get("name", ""), d.text.get("definition", "") or "") for d in documents]
    digests = [_digest(model, text) for text in texts]
    known = dict(session.execute(select(MeaningVector.digest, MeaningVector.vector)
                                 .where(MeaningVector.digest.in_(set(digests)))).tuples().all())
    missing = {digest: text for digest, text in zip(digests, texts) if digest not in known}
    if missing:
        vectors = model.passages(list(missing.values()))
        fresh = {digest: pack(vector) for digest, vector in zip(missing, vectors)}
        _insert_new(session, fresh)
        known.update(fresh)
        if encoded:
            encoded(len(fresh))
    return [dataclasses.replace(document, meaning=known[digest],
                                fingerprint=meaning_fingerprint(document.fingerprint, model))
            for document, digest in zip(documents, digests)]


def in_chunks(session: Session, documents: Iterable[Document], model: SentenceModel | None) -> Iterator[Document]:
    """:func:`with_meanings` over a stream, a chunk at a time (the stream is never held whole)."""
    chunk: list[Document] = []
    for document in documents:
        chunk.append(document)
        if len(chunk) >= CHUNK:
            yield from with_meanings(session, chunk, model)
            chunk = []
    yield from with_meanings(session, chunk, model)


def _insert_new(session: Session, vectors: dict[str, str]) -> None:
    """Add rows, leaving alone any that another process added meanwhile (same digest, same vector)."""
    dialect = session.get_bind().dialect.name
    rows = [{"digest": digest, "vector": vector} for digest, vector in vectors.items()]
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite if dialect == "sqlite" else postgresql).insert(MeaningVector)
        session.execute(insert.on_conflict_do_nothing(index_elements=["digest"]), rows)
    else:
        session.add_all(MeaningVector(**row) for row in rows)


__all__ = ["in_chunks", "meaning_fingerprint", "with_meanings"]

"""Searching the library: turns a user's query into a backend query and hits into CONTRACT §5 shape."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.indexing import FACETS
from kb.models import Indicator
from kb.schemas import SearchResultSchema
from search.base import BaseBackend, SearchQuery

MAX_LIMIT = 100


def search_indicators(
    session: Session,
    backend: BaseBackend,
    text: str,
    *,
    filters: dict[str, str] | None = None,
    limit: int = 20,
    offset: int = 0,
) -> dict[str, Any]:
    """Search the library; ``filters`` may hold department, level1, level2, nature, unit, status, state.

    Returns ``{"total", "hits", "facets", "suggestion"}`` with hits as in CONTRACT §5, best first.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    query = SearchQuery(
        text=text,
        filters={key: value for key, value in (filters or {}).items() if value},
        facets=FACETS,
        limit=limit,
        offset=max(0, offset),
    )
    results = backend.search(query)
    return SearchResultSchema().dump({
        "total": results.total,
        "hits": hits_for(session, [(hit.key, hit.score, dict(hit.highlights)) for hit in results.hits]),
        "facets": results.facet_counts,
        "suggestion": results.suggestion,
    })


def hits_for(session: Session, ranked: list[tuple[str, float, dict[str, str]]]) -> list[dict[str, Any]]:
    """Hit dictionaries for ``(code, score, highlights)`` in the given order, read from the database."""
    codes = [code for code, _, _ in ranked]
    indicators = {
        i.code: i
        for i in session.scalars(
            select(Indicator).where(Indicator.code.in_(codes)).options(selectinload(Indicator.department))
        )
    }
    hits = []
    for code, score, highlight in ranked:
        indicator = indicators.get(code)
        if indicator is None:  # deleted between indexing and now; the index catches up after commit
            continue
        department = indicator.department
        hits.append({
            "code": indicator.code,
            "name": indicator.name,
            "department": {"code": department.code, "name": department.name} if department else None,
            "level1": indicator.level1,
            "level2": indicator.level2,
            "nature": str(indicator.nature),
            "unit": indicator.unit,
            "score": round(score, 4),
            "highlight": highlight,
        })
    return hits

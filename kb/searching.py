"""Searching the library: turns a user's query into a backend query and hits into CONTRACT §5 shape.

Department and category words (:mod:`kb.understanding`): a query made only of such words becomes
filters; otherwise they boost the matching indicators.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb import fallback_search
from kb.indexing import COMMON_STATUS, FACETS, settle
from kb.models import Department, Indicator
from kb.search_cache import cache_version, cached_search, query_cache
from kb.understanding import Understanding, department_rows, understand
from kb.vocab import IndicatorState, SetStatus
from search.base import BaseBackend, SearchQuery
from search.planner import GUESSED

MAX_LIMIT = 100
DEPARTMENT_BOOST = 1.5
# Recommendations: the department's own indicators first, then the common ones (共性指标).
OWN_BOOST, COMMON_BOOST = 2.0, 1.6
LEVEL1_ORDER = ("产出指标", "效益指标", "满意度指标", "成本指标")
SATISFACTION, SATISFACTION_EXTRA = "满意度指标", 2
DOMINANT_TOP = 5
# What a search can be filtered by: the facets of the documents (one definition, kb.indexing.FACETS).
FILTER_KEYS = FACETS
STATUS_LABELS = {status.value: status.label for status in SetStatus} | {COMMON_STATUS: "共性指标"}
STATE_LABELS = {IndicatorState.ACTIVE.value: "在用", IndicatorState.RETIRED.value: "已停用"}


def understood(session: Session, backend: BaseBackend, text: str) -> Understanding:
    """:func:`understand` with the department vocabulary and the analysed text cached per index version
    (:class:`kb.search_cache.VersionedCache`; every department or indicator change is re-indexed). The
    result is shared: read it, never change it."""
    cache = query_cache(backend)
    version = cache_version(backend)
    departments = cache.value(version, "departments", lambda: department_rows(session))
    return cache.memo(version, ("understand", text), lambda: understand(session, text, departments))


def search_indicators(
    session: Session,
    backend: BaseBackend,
    text: str,
    *,
    filters: dict[str, str] | None = None,
    limit: int = 20,
    offset: int = 0,
    details: bool = False,
    hidden: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Search the library; ``filters`` may hold any of :data:`FILTER_KEYS`.

    Returns ``{"total", "hits", "facets", "suggestion", "labels"}`` with hits as in CONTRACT §5, best first;
    ``labels`` maps facet → value → the label a person reads (department names, set status…). With
    ``details`` each hit also carries what the search page shows (state, operator, target, definition),
    so the page needs no lookups of its own. ``hidden``: codes the reader may not see
    (:func:`kb.visibility.hidden_codes`), left out of hits, totals and facet counts.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    filters = {key: value for key, value in (filters or {}).items() if value and key in FILTER_KEYS}
    settle(backend)  # before the version is read: this process's own edits count
    found = understood(session, backend, text or "")
    query = _backend_query(found, filters, limit, max(0, offset), exclude=hidden)
    results = cached_search(backend, query)
    if not results.total and fallback_search.index_lost(session, backend):  # issue 14 item 13
        fallback_search.start_rebuild(session, backend)
        total, codes = fallback_search.search_database(session, found.text or text or "", filters, hidden, limit, max(0, offset))
        return {"total": total, "hits": hits_for(session, [(code, 0.0, {}) for code in codes], details), "facets": {},
                "suggestion": None, "labels": {name: {} for name in FILTER_KEYS}, "index_rebuilding": True}
    hits = list(results.hits)
    if found.departments and not found.text and (found.level1 or found.level2) and \
            filters.get("department", found.departments[0]) in found.departments:  # (or the filter agrees)
        results, hits = _with_common(backend, query, results, hits, limit, max(0, offset))
    facets = {name: dict(counts) for name, counts in results.facet_counts.items()}  # the cached answer stays as it is
    labels = {name: {value: facet_label(name, value, found.department_names)
                     for value in {*facets.get(name, {}), *([filters[name]] if isinstance(filters.get(name), str) else [])}}
              for name in FILTER_KEYS}
    return {
        "total": results.total,
        "hits": hits_for(session, _ranked(hits), details),
        "facets": facets,
        "suggestion": results.suggestion,
        "labels": labels,
    }


def _with_common(backend: BaseBackend, query: SearchQuery, results, hits: list, limit: int, offset: int):
    """A department and a category with nothing else (卫健委 时效指标): after the department's own indicators of
    that category come the common ones (共性指标) of it, which every department's set may use."""
    common_filters = {k: v for k, v in query.filters.items() if k != "department"} | {"kind": "共性"}
    start = max(0, offset - results.total)
    room = max(0, offset + limit - max(offset, results.total))
    common = cached_search(backend, SearchQuery(text="", filters=common_filters, facets=query.facets,
                                                limit=max(room, 1), offset=start, exclude=query.exclude))
    facets = {name: dict(Counter(counts) + Counter(common.facet_counts.get(name, {})))
              for name, counts in {**common.facet_counts, **results.facet_counts}.items()}
    merged = replace(results, total=results.total + common.total, facet_counts=facets)
    return merged, hits + (list(common.hits)[:room] if room else [])


def facet_label(facet: str, value: str, department_names: dict[str, str]) -> str:
    """The label of a facet value as a person reads it."""
    if facet == "department":
        return department_names.get(value, value) if value else "共性指标"
    if facet == "status":
        return STATUS_LABELS.get(value, value)
    if facet == "state":
        return STATE_LABELS.get(value, value)
    return value or "（无）"


def _backend_query(found: Understanding, filters: dict, limit: int, offset: int, **extra) -> SearchQuery:
    filters = dict(filters)
    boosts: dict[str, dict[str, float]] = dict(extra.pop("boosts", {}))
    if found.level2:
        filters.setdefault("level2", found.level2)
    elif found.level1:
        filters.setdefault("level1", found.level1)
    if found.departments:
        if not found.text and "department" not in filters:
            filters["department"] = tuple(found.departments)
        else:
            boosts.setdefault("department", {}).update({code: DEPARTMENT_BOOST for code in found.departments})
    # Words that were only a department or category name leave nothing to match: browse instead.
    return SearchQuery(text=found.text, filters=filters, facets=FACETS, limit=limit, offset=offset,
                       boosts=boosts, **extra)


def recommend_indicators(
    session: Session, backend: BaseBackend, text: str, *, department: str | None = None, limit: int = 20,
    category: str | None = None,
    hidden: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Indicators that fit a project being drafted (name or description), spread over 产出/效益/满意度/成本.

    With ``department`` (a code) its own indicators and the common ones (共性指标) come first.
    Returns ``{"total", "hits"}`` with hits as in CONTRACT §5.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    boosts = {"kind": {"共性": COMMON_BOOST}}
    if department:
        boosts["department"] = {department: OWN_BOOST}
    pool = max(limit * 3, 60)
    filters = {}
    if department and not (text or "").strip():
        filters = {"department": department}
    settle(backend)
    found = understood(session, backend, text or "")
    query = _backend_query(found, filters, pool, 0, boosts=boosts, exclude=hidden)
    results = cached_search(backend, query)
    hits = list(results.hits)
    inferred = None if department or not (text or "").strip() else _dominant_department(session, hits)
    if inferred:
        # A project belongs to one department: the one most of the best hits come from is meant (学生 →
        # 教育局), so another department's look-alikes (高龄津贴 for a student subsidy) fall behind.
        boosts["department"] = {inferred: OWN_BOOST}
        query = _backend_query(found, filters, pool, 0, boosts=boosts, exclude=hidden)
        hits = list(cached_search(backend, query).hits)
    if department and not (text or "").strip():
        # No project text yet: the department's own set, with the common indicators woven in (2:1).
        common = cached_search(backend, SearchQuery(text="", filters={"kind": "共性"}, limit=pool)).hits
        own, hits = list(hits), []
        while own or common:
            hits += own[:2] + common[:1]
            own, common = own[2:], common[1:]
    if (text or "").strip() and not _satisfaction_keys(session, hits):
        hits = _with_satisfaction(session, backend, query, hits, text, category)
    ranked = _ranked(hits)
    hits = _spread(hits_for(session, ranked), limit)
    return {"total": len(hits), "hits": hits}


def _dominant_department(session: Session, hits) -> str | None:
    """The department of most of the best hits (common indicators not counted), if one has a majority."""
    codes = [hit.key for hit in hits[:DOMINANT_TOP]]
    owners = dict(session.execute(select(Indicator.code, Department.code).join(Department)
                                  .where(Indicator.code.in_(codes))).all()) if codes else {}
    counts = Counter(owners.values()).most_common(1)
    return counts[0][0] if counts and counts[0][1] * 2 > len(codes) else None


def _satisfaction_keys(session: Session, hits) -> set[str]:
    codes = [hit.key for hit in hits]
    return set(session.scalars(select(Indicator.code).where(Indicator.code.in_(codes),
                                                             Indicator.level1 == SATISFACTION))) if codes else set()


def _with_satisfaction(session: Session, backend: BaseBackend, query: SearchQuery, hits, text: str,
                       category: str | None):
    """A project serving the public must have a 满意度 indicator (quality rule R12, kb/indicators/
    quality_rules.yaml): when the text did not bring one, the best-fitting ones of that category join."""
    from kb.quality import is_public_service, load_rules

    if not is_public_service({"name": text, "category": category}, load_rules()):
        return hits
    wanted = SearchQuery(text=query.text, filters={**query.filters, "level1": SATISFACTION},
                         limit=SATISFACTION_EXTRA, boosts=query.boosts, exclude=query.exclude)
    extra = cached_search(backend, wanted).hits or cached_search(backend, SearchQuery(
        text="满意度", filters={"level1": SATISFACTION}, limit=SATISFACTION_EXTRA, boosts=query.boosts,
        exclude=query.exclude)).hits
    known = {hit.key for hit in hits}
    return [hit for hit in extra if hit.key not in known] + list(hits)


def _spread(hits: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Interleave the categories (产出, 效益, 满意度, 成本) keeping each one's order, best category first."""
    buckets: dict[str, list[dict[str, Any]]] = {}
    for hit in hits:
        buckets.setdefault(hit["level1"], []).append(hit)
    order = sorted(buckets, key=lambda level1: (LEVEL1_ORDER.index(level1) if level1 in LEVEL1_ORDER else 9))
    # 产出 indicators are most of any goal: take two of them for each one of the others.
    quota = {level1: (2 if level1 == "产出指标" else 1) for level1 in order}
    out: list[dict[str, Any]] = []
    while len(out) < limit and any(buckets.values()):
        for level1 in order:
            for _ in range(quota[level1]):
                if buckets[level1] and len(out) < limit:
                    out.append(buckets[level1].pop(0))
    return out


def suggest_indicators(session: Session, backend: BaseBackend, prefix: str, *, limit: int = 8,
                       hidden: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Instant suggestions while typing: ``[{"code", "name", "department"}]`` (department name or None)."""
    prefix = (prefix or "").strip()[:100]
    if not prefix:
        return []
    settle(backend)
    excluded = set(hidden)
    codes = [code for code in backend.suggest(prefix, limit=max(1, min(limit, 20)) + len(excluded))
             if code not in excluded][:max(1, min(limit, 20))]
    indicators = _load(session, codes)
    return [
        {"code": i.code, "name": i.name, "department": i.department.name if i.department else None}
        for i in (indicators.get(code) for code in codes) if i is not None
    ]


def similar_indicators(session: Session, backend: BaseBackend, code: str, *, limit: int = 6,
                       hidden: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Indicators like the one with ``code`` (for its detail page), in hit shape; [] when unknown."""
    indicator = session.scalar(select(Indicator).where(Indicator.code == code))
    if indicator is None:
        return []
    text = " ".join([indicator.name, *(indicator.keywords or ()), *(indicator.projects or ())])
    query = SearchQuery(text=text, limit=max(1, min(limit, MAX_LIMIT)), exclude=(code, *hidden),
                        boosts={"level2": {indicator.level2: 1.2}})
    settle(backend)
    results = cached_search(backend, query)
    return hits_for(session, _ranked(results.hits))


def _load(session: Session, codes: list[str]) -> dict[str, Indicator]:
    if not codes:
        return {}
    statement = select(Indicator).where(Indicator.code.in_(codes)).options(selectinload(Indicator.department))
    return {i.code: i for i in session.scalars(statement)}


def _ranked(hits) -> list[tuple]:
    return [(hit.key, hit.score, dict(hit.highlights), hit.reasons) for hit in hits]


def explain(reasons) -> list[dict[str, str]]:
    """A hit's reasons as CONTRACT §5's ``why`` list."""
    return [{"term": r.term, "kind": r.kind, "source": r.source} for r in reasons]


def guessed_terms(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The engine's guesses among ``hits``' ``why`` (how it related a typed word to the library's words where no
    synonym group does; finance confirms or rejects them on 检索分析): ``{source, term, kind, hits}`` once per
    typed word and library word, the one found in most hits first."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for hit in hits:
        for reason in hit["why"]:
            if reason["kind"] in GUESSED and reason["term"] != reason["source"]:
                guess = found.setdefault((reason["source"], reason["term"]), {**reason, "hits": 0})
                guess["hits"] += 1
    return sorted(found.values(), key=lambda guess: -guess["hits"])


# What a hit shows, read as plain columns in one query (no ORM objects: a fifth of a cached search, issue 15).
HIT_COLUMNS = (Indicator.code, Indicator.name, Indicator.level1, Indicator.level2, Indicator.nature, Indicator.unit,
               Department.code.label("department_code"), Department.name.label("department_name"))
DETAIL_COLUMNS = (Indicator.state, Indicator.operator, Indicator.target, Indicator.definition)


def hits_for(session: Session, ranked: list[tuple], details: bool = False) -> list[dict[str, Any]]:
    """Hit dictionaries for ``(code, score, highlights[, reasons])`` in the given order, read from the database
    in one query (CONTRACT §5 shape; with ``details`` also state, operator, target and definition)."""
    codes = [code for code, *_ in ranked]
    rows = {}
    if codes:
        statement = (select(*HIT_COLUMNS, *(DETAIL_COLUMNS if details else ()))
                     .outerjoin(Department, Indicator.department_id == Department.id).where(Indicator.code.in_(codes)))
        rows = {row.code: row for row in session.execute(statement)}
    hits = []
    seen = set()
    for code, score, highlight, *reasons in ranked:
        row = rows.get(code)
        if row is None or code in seen:  # deleted since indexing; the index catches up after commit
            continue
        seen.add(code)
        # Already in kb.schemas.SearchHitSchema's shape (a test holds them equal): a schema per hit cost a
        # fifth of a search (issue 15); the API sends these as they are.
        hit = {
            "code": row.code,
            "name": row.name,
            "department": {"code": row.department_code, "name": row.department_name} if row.department_code else None,
            "level1": row.level1,
            "level2": row.level2,
            "nature": str(row.nature),
            "unit": row.unit,
            "score": round(float(score), 4),
            "highlight": {str(key): str(value) for key, value in highlight.items()},
            "why": explain(reasons[0] if reasons else ()),
        }
        if details:
            hit.update(state=str(row.state), operator=row.operator, target=row.target, definition=row.definition)
        hits.append(hit)
    return hits

"""Same library, same ranking (issue 12 item 4): an index that reached the library through edits, status
changes (new versions) and bulk reloads ranks every benchmark query exactly like a fresh build, on each
engine; ``check_index`` reports stale ranking statistics as drift."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.db import make_session_factory
from kb.indexing import (
    INDICATOR_FIELDS, check_index, install_index_sync, iter_documents, rebuild_index, search_options, settle,
)
from kb.models import Indicator, IndicatorSet
from kb.searching import search_indicators
from kb.vocab import SetStatus
from search import load_backend
from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


def benchmark_queries() -> list[str]:
    """Every benchmark query: the blind set, and the public set when ../shared is there."""
    paths = [ROOT / "benchmarks" / "queries" / "pilot_blind.yaml",
             Path(os.environ.get("KB_SHARED_DIR") or ROOT.parent / "shared") / "eval" / "public_queries.yaml"]
    return [item["query"] for path in paths if path.exists()
            for item in yaml.safe_load(path.read_text(encoding="utf-8"))["queries"]]


def make(engine_name: str, tmp_path: Path):
    if engine_name == "postgres":
        return load_backend("search.postgres_backend.PostgresBackend", fields=INDICATOR_FIELDS, dsn=POSTGRES_URL,
                            table=f"same_{uuid.uuid4().hex[:8]}", temporary=True, **search_options())
    return load_backend("search.whoosh_backend.WhooshBackend", fields=INDICATOR_FIELDS,
                        index_dir=tmp_path / f"ix-{uuid.uuid4().hex[:6]}", **search_options())


def top10(session: Session, backend, queries: list[str]) -> list[list[str]]:
    return [[hit["code"] for hit in search_indicators(session, backend, q, limit=10)["hits"]] for q in queries]


def go_through_history(seeded: Session, backend) -> None:
    """Edits and their reverts, a set's status changed and changed back (what a new version re-indexes),
    and two bulk reloads of every document: the library ends as it began."""
    factory = make_session_factory(seeded.get_bind())
    sync = install_index_sync(factory, backend)
    with factory() as session:
        rebuild_index(session, backend)
        session.commit()
    codes = session_codes = [c for c in seeded.scalars(select(Indicator.code).order_by(Indicator.code))][::7]
    for round_ in range(2):
        with factory() as session:
            originals = {}
            for indicator in session.scalars(select(Indicator).where(Indicator.code.in_(session_codes))):
                originals[indicator.code] = indicator.definition
                indicator.definition = f"{indicator.definition}（第 {round_} 次修改，补充说明口径）"
            session.commit()
        settle(backend)
        with factory() as session:
            for indicator in session.scalars(select(Indicator).where(Indicator.code.in_(codes))):
                indicator.definition = originals[indicator.code]
            session.commit()
        settle(backend)
        with factory() as session:
            indicator_set = session.scalars(select(IndicatorSet).where(IndicatorSet.is_current)).first()
            status = indicator_set.status
            indicator_set.status = SetStatus.DRAFT if status != SetStatus.DRAFT else SetStatus.CERTIFIED
            session.commit()
            settle(backend)
            indicator_set = session.get(IndicatorSet, indicator_set.id)
            indicator_set.status = status
            session.commit()
        settle(backend)
        with factory() as session:
            backend.upsert(list(iter_documents(session)))  # a bulk reload re-indexes everything
    sync.close()


@pytest.mark.parametrize("engine_name", ["whoosh", "postgres"])
def test_an_index_with_a_history_ranks_like_a_fresh_build(seeded: Session, tmp_path: Path, engine_name) -> None:
    if engine_name == "postgres" and not POSTGRES_URL:
        pytest.skip("the PostgreSQL backend needs KB_TEST_DATABASE_URL")
    queries = benchmark_queries()
    assert len(queries) >= 200
    fresh, edited = make(engine_name, tmp_path), make(engine_name, tmp_path)
    try:
        rebuild_index(seeded, fresh)
        seeded.commit()
        go_through_history(seeded, edited)
        assert check_index(seeded, edited) == []
        expected, actual = top10(seeded, fresh, queries), top10(seeded, edited, queries)
        differing = [q for q, a, b in zip(queries, expected, actual) if a != b]
        assert not differing, f"{len(differing)} queries rank differently, e.g. {differing[:3]}"
    finally:
        fresh.close()
        edited.close()


def test_check_reports_stale_ranking_statistics_as_drift(seeded: Session, tmp_path: Path, monkeypatch) -> None:
    """With Whoosh's own statistics (replaced documents still counted) the check says so."""
    import search.whoosh_backend as whoosh_backend

    def stale_searcher(ix):
        searcher = ix.searcher()
        searcher.live_statistics = None
        return searcher

    monkeypatch.setattr(whoosh_backend, "live_searcher", stale_searcher)
    backend = make("whoosh", tmp_path)
    try:
        rebuild_index(seeded, backend)
        seeded.commit()
        backend.upsert(list(iter_documents(seeded))[:40])
        problems = check_index(seeded, backend)
        assert problems and any("排序统计" in line for line in problems)
    finally:
        backend.close()

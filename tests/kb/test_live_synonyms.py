"""kb/live_synonyms.py: a synonym edit committed in one process reaches search in every process without
a restart; another process checks at most every few seconds, not per search."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from kb.db import make_session_factory
from kb.indexing import INDICATOR_FIELDS, install_index_sync, rebuild_index, search_options, settle
from kb.live_synonyms import REFRESH_SECONDS, live_synonyms
from kb.searching import search_indicators
from kb.services.audit import Actor
from kb.services.synonyms import edit_group, list_groups, retire_group, seed_synonyms
from search.whoosh_backend import WhooshBackend

FINANCE = Actor("财政甲", "finance")
QUERY = "篮球场"  # a word no synonym group, thesaurus entry or word vector relates to 就医: only finance's edit can


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Worker:
    """One server process: its own engine, sessions, backend on the shared index, and clock."""

    def __init__(self, database_url: str, index_dir: Path) -> None:
        from kb.db import make_engine

        self.engine = make_engine(database_url)
        self.sessions = make_session_factory(self.engine)
        self.backend = WhooshBackend(INDICATOR_FIELDS, index_dir=index_dir, **search_options())
        self.sync = install_index_sync(self.sessions, self.backend)
        self.live = live_synonyms(self.backend)
        self.clock = self.live.clock = Clock()
        self.statements = 0
        event.listen(self.engine, "before_cursor_execute", self._count)

    def _count(self, *_args) -> None:
        self.statements += 1

    def hits(self, text: str = QUERY) -> list[str]:
        with self.sessions() as session:
            return [hit["name"] for hit in search_indicators(session, self.backend, text, limit=5)["hits"]]

    def close(self) -> None:
        self.sync.close()
        self.backend.close()
        self.engine.dispose()


@pytest.fixture
def workers(seeded: Session, engine: Engine, database_url: str, tmp_path: Path):
    seed_synonyms(seeded, FINANCE)
    seeded.commit()
    builder = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "index", **search_options())
    rebuild_index(seeded, builder)
    seeded.commit()
    builder.close()
    pair = [Worker(database_url, tmp_path / "index") for _ in range(2)]
    yield pair
    for worker in pair:
        worker.close()


def _medical_group(session: Session):
    return next(group for group in list_groups(session) if "就医" in group.terms)


def test_an_edit_reaches_this_process_at_once_and_the_other_within_the_interval(workers) -> None:
    editor, other = workers
    before = editor.hits()
    assert other.hits() == before
    assert not any("就医" in name or "就诊" in name for name in before)

    with editor.sessions() as session:
        group = _medical_group(session)
        edit_group(session, FINANCE, group.id, [*group.terms, QUERY], expected_version=group.row_version)
        session.commit()

    after = editor.hits()  # the editing process: at once
    assert after != before and any("就医" in name or "就诊" in name for name in after)

    other.clock.now += REFRESH_SECONDS / 2
    statements = other.statements
    settle(other.backend)
    assert other.statements == statements  # not due: no query at all
    assert other.hits() == before

    other.clock.now += REFRESH_SECONDS
    assert other.hits() == after  # due: one check, groups swapped


def test_retiring_a_group_stops_its_expansion(workers) -> None:
    editor, _ = workers
    with editor.sessions() as session:
        group = _medical_group(session)
        edit_group(session, FINANCE, group.id, [*group.terms, QUERY], expected_version=group.row_version)
        session.commit()
    expanded = editor.hits()
    with editor.sessions() as session:
        group = _medical_group(session)
        retire_group(session, FINANCE, group.id, reason="测试", expected_version=group.row_version)
        session.commit()
    assert editor.hits() != expanded
    assert not any("就医" in name for name in editor.hits())


def test_a_rolled_back_edit_changes_nothing(workers) -> None:
    editor, _ = workers
    before = editor.hits()
    with editor.sessions() as session:
        group = _medical_group(session)
        edit_group(session, FINANCE, group.id, [*group.terms, QUERY], expected_version=group.row_version)
        session.rollback()
    editor.clock.now += REFRESH_SECONDS * 2
    assert editor.hits() == before


def test_a_rejected_guess_stops_expanding_here_at_once_and_in_the_other_process_within_the_interval(workers) -> None:
    from kb.services.rejected_guesses import reject_guess

    def guessed(worker: Worker) -> set[tuple[str, str]]:
        with worker.sessions() as session:
            hits = search_indicators(session, worker.backend, "修房子", limit=10)["hits"]
        return {(why["source"], why["term"]) for hit in hits for why in hit["why"] if why["kind"] == "通用同义词库"}

    editor, other = workers
    assert ("房子", "住房") in guessed(editor) and ("房子", "住房") in guessed(other)
    with editor.sessions() as session:
        reject_guess(session, FINANCE, "房子", "住房")
        session.commit()
    assert ("房子", "住房") not in guessed(editor)
    assert ("房子", "住房") in guessed(other)  # not due yet
    other.clock.now += REFRESH_SECONDS * 1.5
    assert ("房子", "住房") not in guessed(other)

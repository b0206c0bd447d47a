"""Sentence vectors of the indicators (kb/meanings.py): encoded once per text and kept in the database, carried by
the search documents, and part of what `kb index check` compares (a model switched on or off is drift)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb.db import make_session_factory
from kb.indexing import (
    INDICATOR_FIELDS, check_index, indicator_document, install_index_sync, rebuild_index, search_options, settle,
    sentence_model,
)
from kb.meanings import meaning_fingerprint, with_meanings
from kb.models import MeaningVector
from search import SearchQuery
from search.planner import MEANT
from search.whoosh_backend import WhooshBackend

CLINIC = dict(code="T-001", name="门诊就医费用报销比例", definition="参保群众门诊就医费用按规定报销的比例。")
HOUSING = dict(code="T-002", name="农村危房改造户数", definition="当年完成改造的农村危房户数。", unit="户")
OFFICE = dict(code="T-003", name="报销资金拨付及时率", definition="报销资金按时拨付到位的比例。")
TRAVEL = dict(code="T-004", name="差旅费报销合规率", definition="差旅费报销符合规定的笔数占比。")


@pytest.fixture(scope="module")
def model():
    return sentence_model()


@pytest.fixture
def library(session, make_department, make_indicator):
    department = make_department()
    indicators = [make_indicator(department, **fields) for fields in (CLINIC, HOUSING, OFFICE, TRAVEL)]
    session.commit()
    return indicators


def test_each_text_is_encoded_once_and_kept(session, library, model) -> None:
    encoded: list[int] = []
    plain = [indicator_document(i) for i in library]
    first = with_meanings(session, plain, model, encoded=encoded.append)
    assert encoded == [4] and all(d.meaning for d in first)
    assert session.scalar(select(func.count()).select_from(MeaningVector)) == 4
    again = with_meanings(session, plain, model, encoded=encoded.append)
    assert encoded == [4] and [d.meaning for d in again] == [d.meaning for d in first]

    library[0].definition = "参保群众门诊看病花费按政策报销的比例。"
    session.flush()
    changed = with_meanings(session, [indicator_document(i) for i in library], model, encoded=encoded.append)
    assert encoded == [4, 1]  # only the edited text
    assert changed[0].meaning != first[0].meaning and changed[1].meaning == first[1].meaning
    assert changed[1].fingerprint == meaning_fingerprint(plain[1].fingerprint, model) != plain[1].fingerprint
    assert with_meanings(session, plain, None) == plain  # no model: the documents as they were


def test_switching_the_model_on_is_drift_until_a_rebuild(session, library, model, tmp_path: Path) -> None:
    words_only = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "index", **search_options())
    rebuild_index(session, words_only)
    session.commit()
    assert check_index(session, words_only) == []
    words_only.close()

    with_meaning = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "index", **search_options(meaning=True))
    try:
        problems = check_index(session, with_meaning)
        assert len(problems) == 4 and all("索引过期" in p for p in problems)
        rebuild_index(session, with_meaning)
        session.commit()
        assert check_index(session, with_meaning) == []
        hits = with_meaning.search(SearchQuery(text="看病花的钱能报销多少")).hits
        assert hits[0].key == "T-001" and hits[0].reasons[0].kind == MEANT
    finally:
        with_meaning.close()


def test_an_edit_reaches_the_index_with_its_new_vector(engine, library, model, tmp_path: Path) -> None:
    backend = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "index", **search_options(meaning=True))
    factory = make_session_factory(engine)
    sync = install_index_sync(factory, backend)
    try:
        with factory() as session:
            rebuild_index(session, backend)
            session.commit()
            before = session.scalar(select(func.count()).select_from(MeaningVector))
            session.get(type(library[1]), library[1].id).definition = "当年修好的农村漏雨危房户数。"
            session.commit()
        settle(backend, timeout=30)
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(MeaningVector)) == before + 1
            assert check_index(session, backend) == []
    finally:
        sync.close()
        backend.close()

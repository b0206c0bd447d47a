"""Sentence meaning (search/meaning.py): the bundled model places everyday questions near the official wording,
the ranker moves such candidates up and says so, and a query its words already answer never asks the model."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from search.base import Document, FieldSpec, SearchQuery
from search.meaning import SentenceModel, pack, passage_text, pool_bonus, unpack
from search.planner import MEANT
from search.whoosh_backend import WhooshBackend

FIELDS = (FieldSpec("name", 8.0, exact=True, highlight=True, title=True), FieldSpec("definition", 1.5))
TEXTS = {
    "A": ("门诊就医费用报销比例", "参保群众门诊就医费用按规定报销的比例"),
    "B": ("报销材料审核及时率", "报销材料在规定时限内审核完毕的比例"),
    "C": ("差旅费报销合规率", "差旅费报销符合规定的笔数占比"),
    "D": ("农村危房改造户数", "当年完成改造的农村危房户数"),
    "E": ("防洪标准达标率", "堤防达到设计防洪标准的长度占比"),
    "F": ("群众满意度", "受访群众对服务表示满意的比例"),
    "G": ("医疗机构药品费用占比", "医疗机构药品收入占医疗收入的比例"),
    "H": ("报销资金拨付及时率", "报销资金按时拨付到位的比例"),
}
QUESTION = "看病花的钱能报销多少"  # shares only 报销 (and 多少) with the indicators


class CountingModel(SentenceModel):
    """The real model, counting the queries it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def _query(self, text: str) -> np.ndarray:
        self.asked.append(text)
        return super()._query(text)


@pytest.fixture(scope="module")
def model() -> CountingModel:
    return CountingModel()


def _documents(model: SentenceModel) -> list[Document]:
    vectors = model.passages([passage_text(*TEXTS[key]) for key in sorted(TEXTS)])
    return [Document(key, {"name": TEXTS[key][0], "definition": TEXTS[key][1]}, meaning=pack(vector))
            for key, vector in zip(sorted(TEXTS), vectors)]


def test_vectors_survive_packing_to_half_precision() -> None:
    vector = np.random.default_rng(3).normal(size=384).astype(np.float32)
    vector /= np.linalg.norm(vector)
    assert len(pack(vector)) == 1024  # 384 × 2 bytes, base64
    assert np.allclose(unpack(pack(vector)), vector, atol=1e-3)
    assert unpack("") is None


def test_the_model_places_everyday_questions_near_the_indicator_that_answers_them(model) -> None:
    passages = model.passages(["门诊就医费用报销比例；参保群众门诊就医费用按规定报销的比例",
                               "农村危房改造户数；当年完成改造的农村危房户数",
                               "防洪标准达标率；堤防达到设计防洪标准的长度占比"])
    for question, answer in (("看病能报多少钱", 0), ("帮村里修房子", 1), ("几十年一遇的大水挡得住吗", 2)):
        similarities = passages @ model.query(question)
        assert int(np.argmax(similarities)) == answer, (question, similarities)


def test_only_candidates_clearly_closer_than_the_pool_gain() -> None:
    query = np.array([1.0, 0.0])
    pool = [np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.1, 1.0]), np.array([0.0, 1.0])]
    bonus = pool_bonus(query, pool, share=0.5, floor=1.0)
    assert bonus[0] > 0 and bonus[1:] == [0.0, 0.0, 0.0]
    assert pool_bonus(query, pool[:2], 0.5, 1.0) == [0.0, 0.0]  # too few to compare with
    assert pool_bonus(query, [pool[1]] * 4, 0.5, 1.0) == [0.0] * 4  # all alike: nothing stands out


def test_a_question_in_everyday_words_finds_the_indicator_and_says_why(tmp_path: Path, model) -> None:
    with_meaning = WhooshBackend(FIELDS, index_dir=tmp_path / "a", meaning=model)
    words_only = WhooshBackend(FIELDS, index_dir=tmp_path / "b", meaning=model, disabled=["meaning"])
    try:
        for backend in (with_meaning, words_only):
            backend.rebuild(_documents(model))
        hits = with_meaning.search(SearchQuery(text=QUESTION)).hits
        assert hits[0].key == "A"
        assert hits[0].reasons[0].kind == MEANT and hits[0].reasons[0].source == QUESTION
        plain = words_only.search(SearchQuery(text=QUESTION)).hits
        assert plain[0].key != "A"  # the words alone prefer another 报销 indicator
        assert all(r.kind != MEANT for hit in plain for r in hit.reasons)
    finally:
        with_meaning.close()
        words_only.close()


def test_a_query_its_words_answer_never_asks_the_model_and_a_repeated_one_asks_once(tmp_path: Path, model) -> None:
    backend = WhooshBackend(FIELDS, index_dir=tmp_path / "ix", meaning=model)
    try:
        backend.rebuild(_documents(model))
        model.asked.clear()
        model.query.cache_clear()
        hits = backend.search(SearchQuery(text="报销资金拨付")).hits
        assert hits[0].key == "H" and model.asked == []
        backend.search(SearchQuery(text=QUESTION))
        backend.search(SearchQuery(text=QUESTION, offset=1))  # the next page: the same query, encoded once
        assert model.asked == [QUESTION]
    finally:
        backend.close()


def test_documents_without_vectors_rank_by_words_alone(tmp_path: Path, model) -> None:
    backend = WhooshBackend(FIELDS, index_dir=tmp_path / "ix", meaning=model)
    try:
        backend.rebuild([Document(k, {"name": n, "definition": d}) for k, (n, d) in TEXTS.items()])
        hits = backend.search(SearchQuery(text=QUESTION)).hits
        assert hits and all(r.kind != MEANT for hit in hits for r in hit.reasons)
    finally:
        backend.close()


def test_a_search_does_not_wait_for_a_whole_bulk_encoding() -> None:
    model = SentenceModel()
    model.passages(["预热"])
    texts = [f"{name}；{definition}（第{i}条）" for i in range(12) for name, definition in TEXTS.values()]
    bulk = threading.Thread(target=model.passages, args=(texts,))
    bulk.start()
    time.sleep(0.05)
    model.query(QUESTION)
    assert bulk.is_alive(), "the query waited for all 96 passages: the model must be taken batch by batch"
    bulk.join()


def test_a_processor_without_avx2_is_refused_before_the_engine_can_crash(tmp_path: Path, monkeypatch) -> None:
    from search import meaning

    monkeypatch.setattr(meaning.platform, "machine", lambda: "x86_64")
    old = tmp_path / "cpuinfo-old"
    old.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx\n")
    new = tmp_path / "cpuinfo-new"
    new.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n")
    assert meaning.unavailable(old) == "本机处理器不支持 AVX2 指令"
    assert meaning.unavailable(new) is None


def test_without_a_usable_model_there_is_none_to_rank_with(monkeypatch) -> None:
    import kb.search_options as options

    monkeypatch.setattr(options, "unavailable", lambda: "本机处理器不支持 AVX2 指令")
    assert options.sentence_model.__wrapped__() is None  # the uncached function: the process's model stays

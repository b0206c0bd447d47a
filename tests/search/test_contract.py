"""The contract every search backend passes (wagtail's pattern: one suite, parametrised over engines).

To add a backend, add a factory to ``ENGINES`` (``name → callable(tmp_path, fields, options) → backend``);
every test below then runs against it. Documents here are plain (no domain): the engine knows nothing
of indicators.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from search import BaseBackend, Document, FieldSpec, SearchQuery, UnknownOption, load_backend
from search.null import NullBackend

FIELDS = (
    FieldSpec("code", 20.0, exact=True),
    FieldSpec("name", 8.0, exact=True, highlight=True, title=True),
    FieldSpec("keywords", 4.0, dictionary=True, group="terms"),
    FieldSpec("definition", 1.5, highlight=True, group="body"),
)
OPTIONS = {
    "user_words": ["高标准农田"],
    "synonyms": [["满意度", "满意率"], ["及时", "按时"]],
    # A general thesaurus group (kb/indicators/thesaurus.tsv): 长者 is in no document, 老年人 is.
    "thesaurus": [["长者", "老年人", "老人家"]],
}


def _whoosh(tmp_path: Path, fields, options) -> BaseBackend:
    return load_backend("search.whoosh_backend.WhooshBackend", fields=fields, index_dir=tmp_path / "index", **options)


def _postgres(tmp_path: Path, fields, options) -> BaseBackend:
    # The PostgreSQL full-text backend (docs/scaling.md) runs when the suite runs against PostgreSQL.
    import uuid

    from tests.conftest import POSTGRES_URL

    if not POSTGRES_URL:
        pytest.skip("the PostgreSQL backend needs KB_TEST_DATABASE_URL")
    return load_backend("search.postgres_backend.PostgresBackend", fields=fields, dsn=POSTGRES_URL,
                        table=f"contract_{uuid.uuid4().hex[:12]}", temporary=True, **options)


def _memory(tmp_path: Path, fields, options) -> BaseBackend:
    # The engine the web tests run on (tests/webapp/memory_search.py): it must keep the same contract.
    return load_backend("tests.webapp.memory_search.MemoryBackend", fields=fields, **options)


ENGINES: dict[str, Callable[..., BaseBackend]] = {
    "whoosh": _whoosh,
    "postgres": _postgres,
    "memory": _memory,
}


def doc(key: str, name: str, definition: str = "", keywords: str = "", rank: float = 1.0, **facets) -> Document:
    text = {"code": key, "name": name, "definition": definition, "keywords": keywords}
    return Document(key=key, text=text, facets={"group": "甲", **facets}, rank=rank, fingerprint=f"fp-{key}-{name}")


LIBRARY = [
    doc("A-001", "服务对象满意度", "受益群众对服务的满意程度。", group="甲", level="满意度指标"),
    doc("A-002", "资金拨付及时率", "按时拨付的资金占应拨付资金的比例。", group="甲", level="时效指标"),
    doc("A-003", "高标准农田建设面积", "当年建成的高标准农田面积。", "农田 建设", group="乙", level="数量指标"),
    doc("A-004", "高标准农田验收合格率", "验收合格的高标准农田占比。", group="乙", level="质量指标"),
    doc("A-005", "路灯亮灯率", "正常亮灯的路灯占路灯总数的比例。", group="丙", level="质量指标"),
    doc("A-006", "65岁及以上老年人健康管理率", "接受健康管理的65岁及以上老年人比例。", group="丙", level="质量指标"),
    doc("A-007", "预算执行率", "实际支出占预算的比例。", group="丙", level="时效指标"),
    doc("A-008", "路灯维修及时率", "报修后及时修复的路灯比例。", group="丙", level="时效指标", state="retired",
        rank=0.3),
    doc("A-009", "LED节能光源使用率", "使用LED节能光源的路灯比例。", group="丙", level="质量指标"),
]


@pytest.fixture(params=sorted(ENGINES))
def backend(request, tmp_path: Path):
    engine = ENGINES[request.param](tmp_path, FIELDS, OPTIONS)
    yield engine
    engine.close()


@pytest.fixture
def library(backend: BaseBackend) -> BaseBackend:
    assert backend.rebuild(LIBRARY) == len(LIBRARY)
    return backend


def keys(backend: BaseBackend, text: str, **options) -> list[str]:
    return [hit.key for hit in backend.search(SearchQuery(text=text, **options)).hits]


def test_missing_index_is_not_ready_and_finds_nothing(backend: BaseBackend) -> None:
    assert backend.is_ready() is False
    assert backend.search(SearchQuery(text="路灯")).hits == []


def test_rebuild_makes_every_document_findable(library: BaseBackend) -> None:
    assert library.is_ready()
    assert library.count() == len(LIBRARY)
    assert library.fingerprints() == {d.key: d.fingerprint for d in LIBRARY}
    assert "A-005" in keys(library, "路灯")


def test_exact_name_and_code_come_first(library: BaseBackend) -> None:
    assert keys(library, "预算执行率")[0] == "A-007"
    assert keys(library, "a-004")[0] == "A-004"
    assert keys(library, "高标准农田验收合格率")[0] == "A-004"


def test_name_matches_rank_above_definition_matches(library: BaseBackend) -> None:
    found = keys(library, "高标准农田")
    assert set(found[:2]) == {"A-003", "A-004"}


def test_lower_rank_puts_a_document_below_equal_matches(library: BaseBackend) -> None:
    found = keys(library, "路灯")
    assert found.index("A-008") > found.index("A-005")


def test_filters_restrict_and_accept_several_values(library: BaseBackend) -> None:
    assert set(keys(library, "率", filters={"group": "乙"})) <= {"A-003", "A-004"}
    found = set(keys(library, "", filters={"level": ("时效指标", "满意度指标")}, limit=50))
    assert found == {"A-001", "A-002", "A-007", "A-008"}


def test_empty_text_with_filters_browses_everything_matching(library: BaseBackend) -> None:
    results = library.search(SearchQuery(text="", filters={"group": "丙"}, limit=50))
    assert {hit.key for hit in results.hits} == {"A-005", "A-006", "A-007", "A-008", "A-009"}
    assert results.total == 5


def test_facet_counts_cover_all_matches(library: BaseBackend) -> None:
    results = library.search(SearchQuery(text="路灯", facets=("group", "level"), limit=1))
    assert results.total >= 3
    assert sum(results.facet_counts["group"].values()) == results.total
    assert results.facet_counts["group"]["丙"] >= 3


@pytest.mark.parametrize("text, filters", [("", {"group": "丙"}), ("路灯", {})])
def test_pagination_is_consistent(library: BaseBackend, text: str, filters: dict) -> None:
    everything = keys(library, text, filters=filters, limit=50)
    assert len(everything) >= 3
    pages = [keys(library, text, filters=filters, limit=1, offset=n) for n in range(len(everything))]
    assert [page[0] for page in pages] == everything
    assert library.search(SearchQuery(text=text, filters=filters, limit=1, offset=1)).total == len(everything)


def test_boosts_and_exclusions(library: BaseBackend) -> None:
    plain = keys(library, "高标准农田")
    boosted = keys(library, "高标准农田", boosts={"level": {"质量指标": 3.0}})
    assert boosted[0] == "A-004" and plain != [] and "A-004" in plain
    assert "A-003" not in keys(library, "高标准农田", exclude=("A-003",))


def test_highlights_mark_matches_in_name_and_definition(library: BaseBackend) -> None:
    hit = library.search(SearchQuery(text="路灯")).hits[0]
    assert "<mark>路灯</mark>" in hit.highlights["name"]
    assert "<mark>" in hit.highlights["definition"]


def test_highlights_escape_html(backend: BaseBackend) -> None:
    backend.rebuild([doc("X-1", "路灯<script>", "路灯")])
    hit = backend.search(SearchQuery(text="路灯")).hits[0]
    assert "<script>" not in hit.highlights["name"] and "&lt;script&gt;" in hit.highlights["name"]


def test_digits_letters_and_single_characters_are_searchable(library: BaseBackend) -> None:
    assert keys(library, "65")[0] == "A-006"
    assert keys(library, "led")[0] == "A-009"
    assert "A-005" in keys(library, "灯")


def test_full_width_and_traditional_queries(library: BaseBackend) -> None:
    assert keys(library, "６５岁及以上老年人健康管理率")[0] == "A-006"
    assert keys(library, "ＬＥＤ節能光源使用率")[0] == "A-009"
    assert keys(library, "預算執行率")[0] == "A-007"


def test_pinyin_full_spelling_and_initials(library: BaseBackend) -> None:
    assert keys(library, "yusuan zhixinglv")[0] == "A-007"
    assert keys(library, "yszxl")[0] == "A-007"
    assert "A-005" in keys(library, "ludeng")


def test_synonyms_are_expanded_at_query_time(library: BaseBackend) -> None:
    assert "A-001" in keys(library, "服务对象满意率")
    assert "A-002" in keys(library, "资金按时拨付")


def test_thesaurus_reaches_the_librarys_wording_and_says_so(library: BaseBackend) -> None:
    hits = library.search(SearchQuery(text="长者健康")).hits
    assert hits and hits[0].key == "A-006"
    assert ("老年人", "通用同义词库", "长者") in {(r.term, r.kind, r.source) for r in hits[0].reasons}


def test_typo_is_repaired_and_suggested(library: BaseBackend) -> None:
    results = library.search(SearchQuery(text="预算执行律"))
    assert results.hits[0].key == "A-007"
    assert results.suggestion == "预算执行率"


def test_did_you_mean_on_zero_hits(library: BaseBackend) -> None:
    # Nothing in group 乙 matches: the closest title of the library is offered.
    results = library.search(SearchQuery(text="节能光源使用", filters={"group": "乙"}))
    assert results.total == 0 and results.hits == []
    assert results.suggestion == "led节能光源使用率"
    results = library.search(SearchQuery(text="预算执行", filters={"group": "乙"}))
    assert results.total == 0 and results.suggestion == "预算执行率"
    # ... and nothing when no title is close.
    results = library.search(SearchQuery(text="xyzzy"))
    assert results.total == 0 and results.hits == [] and results.suggestion is None


def test_unknown_options_are_refused(tmp_path: Path) -> None:
    """A misspelt option (feedback_facet for feedback_facets) must not be silently ignored."""
    from tests.conftest import POSTGRES_URL

    for engine in ("whoosh", "memory", "postgres") if POSTGRES_URL else ("whoosh", "memory"):
        with pytest.raises(UnknownOption, match="feedback_facet"):
            ENGINES[engine](tmp_path, FIELDS, {**OPTIONS, "feedback_facet": "group"}).close()
    with pytest.raises(UnknownOption):
        NullBackend(FIELDS, colour="red")
    NullBackend(FIELDS, **OPTIONS)  # the engines' ranking options: one configuration fits any backend


def test_upsert_replaces_and_delete_removes(library: BaseBackend) -> None:
    library.upsert([doc("A-005", "道路照明亮灯率", "正常亮灯的道路照明设施比例。", group="丙")])
    assert "A-005" not in keys(library, "路灯")
    assert keys(library, "道路照明亮灯率")[0] == "A-005"
    assert library.fingerprints()["A-005"] == "fp-A-005-道路照明亮灯率"
    library.delete(["A-005", "NOT-THERE"])
    assert "A-005" not in keys(library, "亮灯率")
    assert "A-005" not in library.fingerprints()
    library.upsert([doc("B-001", "新增指标覆盖率", "新加入的指标。")])
    assert keys(library, "新增指标覆盖率")[0] == "B-001"


def test_rebuild_replaces_the_whole_index(library: BaseBackend) -> None:
    library.rebuild([doc("C-001", "农村公路养护里程")])
    assert library.count() == 1
    assert keys(library, "路灯") == []
    assert keys(library, "农村公路")[0] == "C-001"


def test_suggest_by_prefix_and_pinyin(library: BaseBackend) -> None:
    assert library.suggest("高标准")[:2] == ["A-003", "A-004"] or set(library.suggest("高标准")[:2]) == {"A-003", "A-004"}
    assert "A-007" in library.suggest("yszx")
    assert library.suggest("") == []


def test_writer_lock_is_reentrant(library: BaseBackend) -> None:
    with library.lock(timeout=1) as held:
        assert held
        with library.lock(timeout=1) as again:
            assert again
            library.upsert([doc("D-001", "锁内写入测试率")])
    assert keys(library, "锁内写入测试率")[0] == "D-001"


def test_null_backend_keeps_the_interface() -> None:
    null = NullBackend(FIELDS)
    assert null.rebuild(LIBRARY) == len(LIBRARY)
    null.upsert(LIBRARY)
    null.delete(["A-001"])
    results = null.search(SearchQuery(text="路灯"))
    assert results.total == 0 and results.hits == [] and null.fingerprints() == {}
    assert null.suggest("路") == []
    with null.lock(timeout=0) as held:
        assert held


def test_updates_do_not_change_what_a_query_finds(backend: BaseBackend):
    """Replaced documents must not count as still present (e.g. as document frequency)."""
    targets = [doc(f"T-{n:03d}", f"第{n}批受益学生人数", "受益学生的人数。") for n in range(30)]
    others = [doc(f"O-{n:03d}", f"道路养护里程{n}", "养护的公路里程。") for n in range(70)]
    backend.rebuild([*targets, *others])
    before = backend.search(SearchQuery("受益学生人数", limit=100))
    for round_ in range(3):
        backend.upsert([doc(t.key, f"{t.text['name']}（修订{round_}）", "受益学生的人数。") for t in targets])
    after = backend.search(SearchQuery("受益学生人数", limit=100))
    assert before.total == after.total == 30
    assert {hit.key for hit in after.hits} == {t.key for t in targets}

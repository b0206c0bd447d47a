"""kb.searching on the seed library with the Whoosh backend: search, query understanding,
recommendations, suggestions and similar indicators."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from kb.indexing import INDICATOR_FIELDS, rebuild_index, search_options
from kb.searching import recommend_indicators, search_indicators, similar_indicators, suggest_indicators
from kb.understanding import understand
from search.whoosh_backend import WhooshBackend

HIT_KEYS = {"code", "name", "department", "level1", "level2", "nature", "unit", "score", "highlight", "why"}


@pytest.fixture
def backend(seeded: Session, tmp_path: Path):
    engine = WhooshBackend(INDICATOR_FIELDS, index_dir=tmp_path / "index", **search_options())
    rebuild_index(seeded, engine)
    seeded.commit()
    yield engine
    engine.close()


def test_search_returns_contract_hits_best_first(seeded: Session, backend) -> None:
    result = search_indicators(seeded, backend, "城乡低保月均保障人数", limit=5)
    assert set(result) == {"total", "hits", "facets", "suggestion", "labels"}
    first = result["hits"][0]
    assert first["code"] == "MZ-001" and set(first) == HIT_KEYS
    assert first["department"] == {"code": "104", "name": "县民政局"}
    assert "<mark>" in first["highlight"]["name"]
    assert result["facets"]["department"]["104"] >= 1


def test_hits_carry_what_the_page_shows_and_facets_their_labels(seeded: Session, backend) -> None:
    result = search_indicators(seeded, backend, "城乡低保月均保障人数", limit=5, details=True)
    first = result["hits"][0]
    assert set(first) == HIT_KEYS | {"state", "operator", "target", "definition"}
    assert first["state"] == "active" and first["definition"]
    assert result["labels"]["department"]["104"] == "县民政局"
    assert result["labels"]["status"]  # 指标集状态 in words, not codes
    assert all(label != value for value, label in result["labels"]["status"].items())


def test_every_facet_is_a_filter(seeded: Session, backend) -> None:
    from kb.indexing import FACETS
    from kb.searching import FILTER_KEYS

    assert FILTER_KEYS is FACETS
    retired = search_indicators(seeded, backend, "", filters={"state": "retired"}, limit=100)
    common = search_indicators(seeded, backend, "", filters={"kind": "共性"}, limit=100)
    assert all(hit["department"] is None for hit in common["hits"]) and common["total"] > 0
    assert retired["total"] == retired["facets"].get("state", {}).get("retired", 0)


def test_code_query_jumps_to_the_indicator(seeded: Session, backend) -> None:
    assert search_indicators(seeded, backend, "jy-040")["hits"][0]["code"] == "JY-040"


def test_filters_and_pagination(seeded: Session, backend) -> None:
    everything = search_indicators(seeded, backend, "低保", limit=50)
    own = search_indicators(seeded, backend, "低保", filters={"department": "104"}, limit=50)
    assert own["total"] <= everything["total"]
    assert {hit["department"]["code"] for hit in own["hits"]} == {"104"}
    page = search_indicators(seeded, backend, "低保", filters={"department": "104"}, limit=3, offset=3)
    assert [h["code"] for h in page["hits"]] == [h["code"] for h in own["hits"][3:6]]


def test_understands_department_and_category_words(seeded: Session, backend) -> None:
    found = understand(seeded, "卫健局 满意度指标")
    assert found.departments == ["102"] and found.level1 == "满意度指标" and found.text == ""
    result = search_indicators(seeded, backend, "民政 时效指标", limit=50)
    # The department's own, then the common indicators of the category (see the test below).
    assert result["hits"] and all(h["level2"] == "时效指标" for h in result["hits"])
    assert {(h["department"] or {}).get("code") for h in result["hits"]} == {"104", None}
    abbreviated = search_indicators(seeded, backend, "人社局 效益指标", limit=50)
    assert {h["level1"] for h in abbreviated["hits"]} == {"效益指标"}
    assert {(h["department"] or {}).get("code") for h in abbreviated["hits"]} == {"108", None}


def test_department_word_alone_searches_rather_than_filters(seeded: Session, backend) -> None:
    assert understand(seeded, "信访").text == "信访"
    assert search_indicators(seeded, backend, "信访")["total"] > 0


def test_noisy_queries(seeded: Session, backend) -> None:
    assert search_indicators(seeded, backend, "yszxl")["hits"][0]["code"] == "GX-001"
    assert search_indicators(seeded, backend, "高齡津貼發放人數")["hits"][0]["code"] == "MZ-029"
    typo = search_indicators(seeded, backend, "病死畜禽无害化处理律")
    assert typo["hits"][0]["code"] == "NY-033" and typo["suggestion"] == "病死畜禽无害化处理率"


def test_recommend_spreads_categories_and_prefers_the_department(seeded: Session, backend) -> None:
    result = recommend_indicators(
        seeded, backend, "农村公路养护工程：对县乡村道路实施日常养护300公里", department="106", limit=12)
    assert set(result) == {"total", "hits"} and result["total"] == len(result["hits"]) <= 12
    assert {h["level1"] for h in result["hits"]} >= {"产出指标", "效益指标"}
    owners = [h["department"]["code"] if h["department"] else None for h in result["hits"]]
    assert all(owner in ("106", None) for owner in owners[:6])
    assert set(result["hits"][0]) == HIT_KEYS


def test_recommend_without_text_offers_the_department_set_and_common_indicators(seeded: Session, backend) -> None:
    result = recommend_indicators(seeded, backend, "", department="104", limit=20)
    owners = {h["department"]["code"] if h["department"] else None for h in result["hits"]}
    assert owners == {"104", None}


def test_suggest_while_typing(seeded: Session, backend) -> None:
    suggestions = suggest_indicators(seeded, backend, "预算执")
    assert suggestions[0] == {"code": "GX-001", "name": "预算执行率", "department": None}
    assert any(s["code"] == "GX-001" for s in suggest_indicators(seeded, backend, "yszx"))
    assert suggest_indicators(seeded, backend, "  ") == []


def test_similar_indicators_exclude_the_indicator_itself(seeded: Session, backend) -> None:
    similar = similar_indicators(seeded, backend, "ZJ-014", limit=6)
    codes = [h["code"] for h in similar]
    assert "ZJ-014" not in codes and 0 < len(codes) <= 6
    assert any(code.startswith("ZJ-") for code in codes)
    assert similar_indicators(seeded, backend, "NOPE-1") == []


@pytest.mark.parametrize("query, code", [
    ("卫健委的满意度指标", "102"), ("人社局 时效指标", "108"), ("住建 生态效益指标", "107"),
    ("机关事务中心 成本指标", "103"), ("农业农村有哪些经济效益指标", "105"),
])
def test_department_abbreviations_come_from_the_names_in_the_table(seeded: Session, query: str, code: str) -> None:
    """卫健, 人社, 住建 are nowhere in a list: they are read off 卫生健康局, 人力资源和社会保障局 …"""
    found = understand(seeded, query)
    assert found.departments == [code] and found.text == "" and found.level1


def test_a_new_departments_abbreviation_is_understood_without_any_list(seeded: Session) -> None:
    from kb.intent import find_departments

    departments = [("118", "县发展和改革局"), ("120", "县市场监督管理局"), ("101", "县教育局")]
    assert find_departments("发改委的项目", departments) == [("发改委", "118")]
    assert find_departments("市监局抽检合格率", departments) == [("市监局", "120")]
    assert find_departments("教学质量", departments) == []


def test_a_leading_word_of_a_name_boosts_but_stays_in_the_text(seeded: Session) -> None:
    found = understand(seeded, "乡镇卫生院服务能力")
    assert found.departments == ["102"] and "卫生院" in found.text


def test_recommendations_for_a_public_service_project_include_a_satisfaction_indicator(seeded: Session, backend) -> None:
    """Quality rule R12: a project serving the public needs a 满意度 indicator, so the recommendations offer one
    even when the text brought none (issue 16 item 14)."""
    from sqlalchemy import select

    from kb.models import Indicator

    # Hide the 满意度 indicators the text brings by itself, so only the rule can bring one (another one) in.
    # Hidden codes are what the reader may not see: the rule must never bring those back (issue 15).
    satisfaction = set(seeded.scalars(select(Indicator.code).where(Indicator.level1 == "满意度指标")))
    hidden: tuple[str, ...] = ()
    for _ in range(10):
        plain = recommend_indicators(seeded, backend, "资金拨付及时", limit=12, hidden=hidden)["hits"]
        brought = [h["code"] for h in plain if h["level1"] == "满意度指标"]
        if not brought:
            break
        hidden += tuple(brought)
    assert plain and not [h for h in plain if h["level1"] == "满意度指标"]  # not a public-service text: none forced in
    public = recommend_indicators(seeded, backend, "资金拨付及时", category="补助补贴类", limit=12,
                                  hidden=hidden)["hits"]
    forced = [h["code"] for h in public if h["level1"] == "满意度指标"]
    assert forced and set(forced) <= satisfaction - set(hidden)


def test_student_subsidy_recommendations_stay_with_students(seeded: Session, backend) -> None:
    hits = recommend_indicators(seeded, backend, "学生生活补贴发放：为家庭经济困难学生按月发放生活补贴",
                                department="101", limit=30)["hits"]
    names = [h["name"] for h in hits]
    assert not [n for n in names if "高龄" in n or "垃圾" in n], names
    assert "受助学生满意度" in names


def test_a_department_and_a_category_list_its_own_then_the_common_indicators_of_it(seeded: Session, backend) -> None:
    result = search_indicators(seeded, backend, "卫健委 时效指标", limit=50)
    departments = [(hit["department"] or {}).get("code", "") for hit in result["hits"]]
    assert departments and departments[0] == "102" and "" in departments
    first_common = departments.index("")
    assert set(departments[:first_common]) == {"102"} and set(departments[first_common:]) == {""}
    assert {hit["level2"] for hit in result["hits"]} == {"时效指标"}
    assert result["total"] == len(result["hits"])
    # Paging walks on from the department's own into the common ones without repeating or losing any.
    pages = [search_indicators(seeded, backend, "卫健委 时效指标", limit=3, offset=n)["hits"] for n in range(0, 50, 3)]
    assert [hit["code"] for page in pages for hit in page] == [hit["code"] for hit in result["hits"]]
    # A department the user chose as a filter stays a filter.
    chosen = search_indicators(seeded, backend, "时效指标", filters={"department": "102"}, limit=50)["hits"]
    assert chosen and all(hit["department"] and hit["department"]["code"] == "102" for hit in chosen)
    # The query naming the department the filter holds asks the same: its own, then the common ones.
    agreeing = search_indicators(seeded, backend, "卫健委 时效指标", filters={"department": "102"}, limit=50)["hits"]
    assert [hit["code"] for hit in agreeing] == [hit["code"] for hit in result["hits"]]


@pytest.mark.parametrize(("query", "level1", "level2"), [
    ("民政 质量", "产出指标", "质量指标"), ("教育 可持续影响", "效益指标", "可持续影响指标"),
    ("住建局 环境效益", "效益指标", "生态效益指标"), ("人社 成本", "成本指标", None)])
def test_a_category_named_without_its_ending_is_meant_next_to_a_department(seeded: Session, query, level1, level2) -> None:
    found = understand(seeded, query)
    assert (found.level1, found.level2, found.text) == (level1, level2, "") and found.departments


def test_a_category_word_inside_other_words_stays_text(seeded: Session) -> None:
    found = understand(seeded, "民政 工程质量")
    assert found.level2 is None and "工程质量" in found.text

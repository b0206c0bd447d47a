"""The 同义词 pages: finance maintains the synonym groups and search follows at once (same app, no
restart); concurrent edits conflict with 409; department and expert users are refused."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb.models import AuditEntry, SynonymGroup
from kb.services.synonyms import SYNONYMS_PATH

QUERY = "篮球场"  # a word no synonym group, thesaurus entry or word vector relates to 就医: only finance's edit can


def _medical(app) -> SynonymGroup:
    with app.extensions["kb"].sessions() as session:
        return session.scalar(select(SynonymGroup).where(SynonymGroup.category == "卫生健康").order_by(SynonymGroup.id))


def _names(client, text: str = QUERY) -> list[str]:
    response = client.get("/api/v1/search", query_string={"q": text, "limit": 5})
    assert response.status_code == 200
    return [hit["name"] for hit in response.get_json()["hits"]]


@pytest.fixture
def finance(client, make_user, login, world):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    return client


def test_the_list_shows_groups_with_the_indicators_they_reach(finance, app) -> None:
    page = finance.get("/synonyms/").get_data(as_text=True)
    assert "看病、就医、就诊" in page and 'href="/synonyms/"' in page  # the nav link
    medical = _medical(app)
    assert f'<tr data-group="{medical.id}">' in page
    filtered = finance.get("/synonyms/", query_string={"q": "就诊"}).get_data(as_text=True)
    assert "看病、就医、就诊" in filtered and "满意度、满意率" not in filtered
    assert "高血压、血压" in finance.get("/synonyms/", query_string={"category": "卫生健康"}).get_data(as_text=True)


def test_an_edit_by_finance_changes_search_results_in_the_running_app(finance, app) -> None:
    before = _names(finance)
    assert not any("就医" in name or "就诊" in name for name in before)
    medical = _medical(app)
    assert medical.terms == ["看病", "就医", "就诊"]
    response = finance.post(f"/synonyms/{medical.id}", data={
        "terms": f"看病、就医、就诊、{QUERY}", "note": "群众说法", "category": "卫生健康", "row_version": medical.row_version})
    assert response.status_code == 302
    after = _names(finance)
    assert after != before and any("就医" in name or "就诊" in name for name in after)
    with app.extensions["kb"].sessions() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "synonym_group"))
        assert (entry.actor, entry.action, entry.after["terms"][-1]) == ("caizheng", "update", QUERY)

    retired = finance.post(f"/synonyms/{medical.id}/retire", data={"reason": "测试停用", "row_version": medical.row_version + 1})
    assert retired.status_code == 302
    assert not any("就医" in name or "就诊" in name for name in _names(finance))


def test_add_shows_every_problem_in_chinese_and_saves_nothing(finance, app) -> None:
    response = finance.post("/synonyms/", data={"terms": "瞧病 就医", "note": "", "category": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f"“就医”已在另一个启用的同义词组（第 {_medical(app).id} 组：看病、就医、就诊）中" in page
    assert 'value="瞧病 就医"' in page  # what was typed stays in the form
    added = finance.post("/synonyms/", data={"terms": "瞧病、求医", "note": "口语", "category": "卫生健康"})
    assert added.status_code == 302
    assert "瞧病、求医" in finance.get("/synonyms/", query_string={"q": "瞧病"}).get_data(as_text=True)


def test_retire_without_a_reason_is_refused(finance, app) -> None:
    medical = _medical(app)
    response = finance.post(f"/synonyms/{medical.id}/retire", data={"reason": " ", "row_version": medical.row_version})
    assert response.status_code == 422 and "请填写停用理由" in response.get_data(as_text=True)
    assert _medical(app).active


def test_concurrent_edits_never_overwrite_each_other(finance, app, make_user, login) -> None:
    other = app.test_client()
    make_user("finance", username="caizheng2")
    login(other, "caizheng2")
    medical = _medical(app)
    opened = medical.row_version  # both opened the edit page at this version
    first = other.post(f"/synonyms/{medical.id}", data={
        "terms": "看病、就医", "note": "去掉就诊", "category": "卫生健康", "row_version": opened})
    assert first.status_code == 302
    second = finance.post(f"/synonyms/{medical.id}", data={
        "terms": "看病、就医、就诊、看大夫", "note": "", "category": "卫生健康", "row_version": opened})
    assert second.status_code == 409
    page = second.get_data(as_text=True)
    assert "已被他人修改" in page and "您的修改没有保存" in page and "看病、就医、就诊、看大夫" in page
    assert _medical(app).terms == ["看病", "就医"]
    retire = finance.post(f"/synonyms/{medical.id}/retire", data={"reason": "过时", "row_version": opened})
    assert retire.status_code == 409 and _medical(app).active


def test_export_is_the_yaml_file_until_finance_changes_it(finance) -> None:
    response = finance.get("/synonyms/synonyms.yaml")
    assert response.status_code == 200 and response.mimetype == "text/yaml"
    assert response.get_data(as_text=True) == SYNONYMS_PATH.read_text(encoding="utf-8")


ROUTES = [("get", "/synonyms/"), ("post", "/synonyms/"), ("get", "/synonyms/{id}"), ("post", "/synonyms/{id}"),
          ("post", "/synonyms/{id}/retire"), ("post", "/synonyms/{id}/restore"), ("get", "/synonyms/synonyms.yaml"),
          ("post", "/synonyms/rejected"), ("post", "/synonyms/rejected/{id}/allow")]


@pytest.mark.parametrize("role", ["department", "expert"])
def test_department_and_expert_users_are_refused(client, make_user, login, world, app, role) -> None:
    make_user(role, "101" if role == "department" else None, username=f"{role}_user")
    login(client, f"{role}_user")
    medical = _medical(app)
    for method, route in ROUTES:
        response = getattr(client, method)(route.format(id=medical.id), data={"terms": "a、b", "reason": "x",
                                                                              "source": "打针", "term": "护理",
                                                                              "row_version": medical.row_version})
        assert response.status_code == 403, (method, route)
    assert _medical(app).row_version == medical.row_version
    assert "/synonyms/" not in client.get("/", follow_redirects=True).get_data(as_text=True)  # no nav link either


def test_the_audit_log_shows_a_synonym_edit_in_chinese(finance, app, make_user, login) -> None:
    medical = _medical(app)
    finance.post(f"/synonyms/{medical.id}", data={"terms": "看病、就医、就诊、看大夫", "note": "", "category": "卫生健康",
                                                   "row_version": medical.row_version})
    make_user("admin", username="guanli")
    auditor = app.test_client()
    login(auditor, "guanli")
    with app.extensions["kb"].sessions() as session:
        entry_id = session.scalar(select(AuditEntry.id).where(AuditEntry.entity_type == "synonym_group"))
    page = auditor.get(f"/audit/{entry_id}").get_data(as_text=True)
    assert "检索同义词组" in page and '<th scope="row">同义词' in page
    assert re.findall(r'<tr data-field="(\w+)" class="is-changed">', page) == ["terms"]


@pytest.mark.parametrize(("separation", "status"), [(False, 302), (True, 403)])
def test_the_administrator_edits_unless_separation_of_duties(app_config, separation, status, request) -> None:
    app_config["SEPARATION_OF_DUTIES"] = separation
    app, client = request.getfixturevalue("app"), request.getfixturevalue("client")
    request.getfixturevalue("world")
    request.getfixturevalue("make_user")("admin", username="guanli")
    request.getfixturevalue("login")(client, "guanli")
    page = client.get("/synonyms/").get_data(as_text=True)
    assert ('id="add-group"' in page) is not separation
    assert client.post("/synonyms/", data={"terms": "瞧病、求医"}).status_code == status

"""Editing from the browser: finance edits anything, departments only their own draft set; validation
messages next to the fields; concurrent edits refused with what changed; retire instead of delete."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb.models import AuditEntry, Indicator
from kb.vocab import IndicatorState


def form_of(page: str) -> dict:
    """The indicator form's current values, as the browser would submit them."""
    data: dict = {}
    for name, value in re.findall(r'<input id="\w+" name="(\w+)" type="text" value="([^"]*)"', page):
        data[name] = value
    for name, body in re.findall(r'<select id="(\w+)" name="\w+"[^>]*>(.*?)</select>', page, re.S):
        selected = re.search(r'<option value="([^"]*)" selected>', body)
        data[name] = selected.group(1) if selected else ""
    for name, value in re.findall(r'<textarea id="(\w+)" name="\w+"[^>]*>(.*?)</textarea>', page, re.S):
        data[name] = value
    data["row_version"] = re.search(r'name="row_version" value="(\d+)"', page).group(1)
    data["basis_kind"] = re.findall(r'<select name="basis_kind"[^>]*>.*?<option value="([^"]*)" selected>', page, re.S)
    data["basis_title"] = re.findall(r'name="basis_title" type="text" value="([^"]*)"', page)
    data["basis_doc_no"] = re.findall(r'name="basis_doc_no" type="text" value="([^"]*)"', page)
    import html

    return {k: (html.unescape(v) if isinstance(v, str) else [html.unescape(x) for x in v]) for k, v in data.items()}


def indicator(app, code: str) -> Indicator:
    with app.extensions["kb"].sessions() as session:
        return session.scalar(select(Indicator).where(Indicator.code == code)
                              .options(selectinload(Indicator.department)))


@pytest.fixture
def finance(world, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    return client


def test_finance_edits_an_indicator_of_a_certified_set(world, finance):
    page = finance.get("/indicators/WJ-006/edit").get_data(as_text=True)
    data = form_of(page)
    assert data["name"] == "高血压患者基层规范管理服务率"
    data["target"] = "65"
    response = finance.post("/indicators/WJ-006/edit", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert indicator(world, "WJ-006").target == "65"
    detail = finance.get("/indicators/WJ-006").get_data(as_text=True)
    assert "已保存" in detail and "指标值" in detail and '<span class="ins">65</span>' in detail


def test_invalid_input_shows_chinese_messages_next_to_fields_and_keeps_input(world, finance):
    data = form_of(finance.get("/indicators/WJ-006/edit").get_data(as_text=True))
    data.update(target="大约七成", unit="", basis_title=[""], basis_doc_no=[""])
    response = finance.post("/indicators/WJ-006/edit", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="target-error">定量指标的指标值应为数字', page)
    assert re.search(r'id="unit-error">定量指标必须填写计量单位', page)
    assert "至少填写一条指标来源" in page
    assert 'value="大约七成"' in page  # what was typed is kept
    assert indicator(world, "WJ-006").target != "大约七成"


def test_second_save_of_the_same_version_is_refused_with_the_changes(world, app, make_user, login):
    make_user("finance", username="alice")
    make_user("finance", username="bob")
    alice, bob = app.test_client(), app.test_client()
    login(alice, "alice")
    login(bob, "bob")
    alice_form = form_of(alice.get("/indicators/WJ-006/edit").get_data(as_text=True))
    bob_form = form_of(bob.get("/indicators/WJ-006/edit").get_data(as_text=True))
    alice_form["target"] = "70"
    assert alice.post("/indicators/WJ-006/edit", data=alice_form).status_code == 302
    bob_form["definition"] = "鲍勃的解释"
    response = bob.post("/indicators/WJ-006/edit", data=bob_form)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "别人刚刚修改了这项指标" in page and "指标值" in page and "70" in page
    assert "鲍勃的解释" in page  # bob's input is kept in the form
    saved = indicator(world, "WJ-006")
    assert saved.target == "70" and saved.definition != "鲍勃的解释"
    # Saving again from the refreshed form (it carries the new version) succeeds.
    retry = form_of(page)
    assert bob.post("/indicators/WJ-006/edit", data=retry).status_code == 302
    assert indicator(world, "WJ-006").definition == "鲍勃的解释"


def test_department_edits_its_own_draft_but_not_another_department(world, client, make_user, login):
    make_user("department", "109", username="xiangzhen")
    login(client, "xiangzhen")
    new = client.get("/departments/109/indicators/new").get_data(as_text=True)
    code = re.search(r'name="code" type="text" value="([^"]+)"', new).group(1)
    payload = {"code": code, "name": "乡镇便民服务事项办结率", "level1": "产出指标", "level2": "质量指标",
               "nature": "定量", "operator": "≥", "target": "98", "unit": "%", "definition": "按时办结的比例。",
               "formula": "", "basis_kind": ["三定方案"], "basis_title": ["本部门三定方案"], "basis_doc_no": [""],
               "data_source": "", "projects": "便民服务", "keywords": "办结、便民", "remarks": ""}
    response = client.post("/departments/109/indicators/new", data=payload)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    created = indicator(world, code)
    assert created.department.code == "109" and created.keywords == ["办结", "便民"]
    data = form_of(client.get(f"/indicators/{code}/edit").get_data(as_text=True))
    data["target"] = "99"
    assert client.post(f"/indicators/{code}/edit", data=data).status_code == 302
    # Another department's indicator, and the common set: refused, in pages and on save.
    assert client.get("/indicators/WJ-006/edit").status_code == 403
    assert client.post("/indicators/WJ-006/edit", data=data).status_code == 403
    assert client.get("/departments/102/indicators/new").status_code == 403
    assert client.post("/indicators/WJ-006/retire", data={"row_version": "1"}).status_code == 403
    assert client.get("/common/new").status_code == 403
    with world.extensions["kb"].sessions() as session:
        denials = session.scalars(select(AuditEntry).where(AuditEntry.action == "denied",
                                                           AuditEntry.actor == "xiangzhen")).all()
        assert len(denials) >= 4


def test_department_cannot_edit_its_own_set_once_certified(world, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    data = form_of(client.get("/indicators/WJ-006/edit").get_data(as_text=True))
    make_user("department", "102", username="weijian")
    login(client, "weijian")
    page = client.get("/indicators/WJ-006").get_data(as_text=True)
    assert "data-edit" not in page and "本部门指标集已审定：开始新版本后可修改" in page
    assert 'action="/workflow/departments/102/start"' in page
    department_page = client.get("/departments/102").get_data(as_text=True)
    assert "本部门指标集已审定：开始新版本后可修改" in department_page and "data-start-year" in department_page
    # The edit form is not offered: its GET goes back to the indicator with the reason (issue 16).
    response = client.get("/indicators/WJ-006/edit")
    assert response.status_code == 302 and response.headers["Location"].endswith("/indicators/WJ-006")
    assert "已审定，不能直接修改" in client.get("/indicators/WJ-006").get_data(as_text=True)
    refused = client.post("/indicators/WJ-006/edit", data=data)
    assert refused.status_code == 403  # …but the set is certified, so the service refuses
    assert "草稿" in refused.get_data(as_text=True)


def test_retire_and_restore_instead_of_delete(world, finance):
    version = indicator(world, "WJ-001").row_version
    assert finance.post("/indicators/WJ-001/retire", data={"row_version": version, "reason": "政策到期"}).status_code == 302
    retired = indicator(world, "WJ-001")
    assert retired.state == IndicatorState.RETIRED
    assert "已停用" in finance.get("/indicators/WJ-001").get_data(as_text=True)
    assert finance.post("/indicators/WJ-001/restore", data={"row_version": retired.row_version}).status_code == 302
    assert indicator(world, "WJ-001").state == IndicatorState.ACTIVE
    stale = finance.post("/indicators/WJ-001/retire", data={"row_version": version})
    assert stale.status_code == 409 and "已被他人修改" in stale.get_data(as_text=True)


def test_reorder_a_department_set(world, finance):
    page = finance.get("/departments/102/reorder").get_data(as_text=True)
    order = re.findall(r'name="order" value="([^"]+)"', page)
    assert len(order) > 3
    reordered = [order[-1], *order[:-1]]
    assert finance.post("/departments/102/reorder", data={"order": reordered}).status_code == 302
    again = re.findall(r'name="order" value="([^"]+)"', finance.get("/departments/102/reorder").get_data(as_text=True))
    assert again == reordered


def test_finance_adds_a_common_indicator(world, finance):
    payload = {"code": "GX-T01", "name": "资金拨付及时率", "level1": "产出指标", "level2": "时效指标",
               "nature": "定量", "operator": "≥", "target": "95", "unit": "%", "definition": "按时拨付的资金比例。",
               "basis_kind": ["计划标准"], "basis_title": ["资金拨付计划"], "basis_doc_no": [""]}
    assert finance.post("/common/new", data=payload).status_code == 302
    common = indicator(world, "GX-T01")
    assert common.department is None


def test_forms_without_the_csrf_token_are_refused(world, finance):
    response = finance.post("/indicators/WJ-001/retire", data={"row_version": "1"}, csrf=False)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert indicator(world, "WJ-001").state == IndicatorState.ACTIVE


def test_editing_a_retired_indicator_keeps_it_retired_and_keeps_unshown_fields(world, finance):
    version = indicator(world, "WJ-002").row_version
    finance.post("/indicators/WJ-002/retire", data={"row_version": version})
    data = form_of(finance.get("/indicators/WJ-002/edit").get_data(as_text=True))
    data.pop("evidence", None)  # a form that does not carry a field leaves it alone
    before = indicator(world, "WJ-002")
    data["target"] = "96"
    assert finance.post("/indicators/WJ-002/edit", data=data).status_code == 302
    after = indicator(world, "WJ-002")
    assert after.state == IndicatorState.RETIRED and after.target == "96"
    assert after.evidence == before.evidence

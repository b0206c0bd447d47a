"""The goals pages and JSON endpoints: drafting, live checks, review, exports, usage, permissions."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from kb.models import PerformanceGoal, QueryLogEntry
from kb.services import goals as goal_services

PROJECT = {"name": "2025年基本公共卫生服务项目", "year": "2025", "amount": "1200", "fiscal_amount": "1000",
           "kind": "延续", "category": "公共服务类", "period": "2025年1月—12月",
           "description": "为辖区居民免费提供预防接种、儿童健康管理、孕产妇健康管理、老年人健康管理、高血压和糖尿病患者健康管理等基本公共卫生服务。"}


@pytest.fixture
def officer(world, make_user, login, client):
    user = make_user("department", "102", username="weijian")
    login(client, "weijian")
    return user


def the_goal(app) -> PerformanceGoal:
    with app.extensions["kb"].sessions() as session:
        goal = session.scalars(select(PerformanceGoal)).one()
        return goal_services.get_goal(session, goal.id)


def edit_form(goal_dict: dict, version: int, client, **extra) -> MultiDict:
    """The drafting form as the browser posts it (one value per row_* field per row)."""
    form = MultiDict({"csrf_token": client.csrf_token(), "row_version": str(version)})
    for field in goal_services.PROJECT_FIELDS:
        value = goal_dict["project"].get(field)
        form.add(field, "" if value is None else str(value))
    form.add("long_term_objective", goal_dict["long_term_objective"])
    form.add("annual_objective", goal_dict["annual_objective"])
    for index, row in enumerate(goal_dict["rows"]):
        form.add("row_key", str(row.get("id") or f"new-{index}"))
        for field in ("id", "code", "name", "level1", "level2", "nature", "operator", "target", "unit", "formula",
                      "definition", "basis_note", "remarks"):
            form.add(f"row_{field}", str(row.get(field) or ""))
    for key, value in extra.items():
        for item in value if isinstance(value, list) else [value]:
            form.add(key, item)
    return form


def test_department_drafts_submits_and_finance_approves(app, client, officer, make_user, login):
    response = client.post("/goals/new", data=PROJECT)
    assert response.status_code == 302 and "/edit" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert "推荐指标" in page and "产出指标" in page and "国家基本公共卫生服务项目" in page
    assert "必须改正" in page  # an empty goal has findings (no indicators, no objectives)
    assert 'value="102|国家基本公共卫生服务项目" selected' in page  # the closest typical bundle is preselected
    goal = the_goal(app)
    data = goal_services.goal_to_dict(goal)
    response = client.post(f"/goals/{goal.id}/edit", csrf=False, data=edit_form(data, goal.row_version, client,
                                                                         action="bundle", bundle="国家基本公共卫生服务项目"))
    assert response.status_code == 302
    goal = the_goal(app)
    assert len(goal.rows) == 13 and goal.rows[0].indicator_code == "WJ-001"
    # Live check of unsaved content (JSON): objectives still empty.
    data = goal_services.goal_to_dict(goal)
    result = client.post(f"/goals/{goal.id}/check", json=data, headers={"X-CSRFToken": client.csrf_token()}).get_json()
    assert "annual_objective" in {f["rule"] for f in result["findings"]} and result["errors"] >= 1
    data["annual_objective"] = "2025 年为全县居民提供 12 类基本公共卫生服务，适龄儿童免疫规划疫苗接种率达到 90% 以上。"
    data["long_term_objective"] = "2025—2027 年基本公共卫生服务覆盖全县居民，居民健康素养水平达到 28%。"
    result = client.post(f"/goals/{goal.id}/check", json=data, headers={"X-CSRFToken": client.csrf_token()}).get_json()
    assert result["errors"] == 0, result
    response = client.post(f"/goals/{goal.id}/edit", csrf=False, data=edit_form(data, goal.row_version, client, action="submit"))
    assert response.status_code == 302 and response.location.endswith(f"/goals/{goal.id}"), \
        client.get(response.location).get_data(as_text=True)
    assert the_goal(app).status.value == "submitted"

    make_user("expert", username="zhuanjia")
    client.post("/logout")
    login(client, "zhuanjia")
    assert client.get(f"/goals/{goal.id}/edit").status_code == 403
    response = client.post(f"/goals/{goal.id}/review", data={"verdict": "良", "summary": "目标明确",
                                                              f"comment_{goal.rows[0].id}": "可参考上年实际值"})
    assert response.status_code == 302
    assert client.post(f"/goals/{goal.id}/decide", data={"decision": "approve"}).status_code == 403

    make_user("finance", username="caizheng")
    client.post("/logout")
    login(client, "caizheng")
    page = client.get(f"/goals/{goal.id}").get_data(as_text=True)
    assert "可参考上年实际值" in page and "财政决定" in page
    assert client.post(f"/goals/{goal.id}/decide", data={"decision": "approve"}).status_code == 302
    assert the_goal(app).status.value == "approved"

    response = client.get(f"/goals/{goal.id}/export.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["A1"].value == "项目支出绩效目标申报表"
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert "适龄儿童国家免疫规划疫苗接种率" in values and "≥90" in values
    response = client.get("/goals/export/102/2025.xlsx")
    assert load_workbook(io.BytesIO(response.data)).sheetnames[0] == "目录"


def test_edit_reports_row_problems_without_saving(app, client, officer):
    client.post("/goals/new", data=PROJECT)
    goal = the_goal(app)
    data = goal_services.goal_to_dict(goal)
    data["rows"] = [{"name": "", "level1": "产出指标", "level2": "经济效益指标", "nature": "定量", "operator": "≥",
                     "target": "1", "unit": "个"}]
    response = client.post(f"/goals/{goal.id}/edit", csrf=False, data=edit_form(data, goal.row_version, client, action="save"))
    assert response.status_code == 422
    assert "尚未保存" in response.get_data(as_text=True)
    assert the_goal(app).rows == []


def test_stale_form_is_refused(app, client, officer):
    client.post("/goals/new", data=PROJECT)
    goal = the_goal(app)
    data = goal_services.goal_to_dict(goal)
    assert client.post(f"/goals/{goal.id}/edit", csrf=False, data=edit_form(data, goal.row_version, client)).status_code == 302
    response = client.post(f"/goals/{goal.id}/edit", csrf=False, data=edit_form(data, goal.row_version, client))
    assert response.status_code == 409


def test_add_indicator_from_the_indicator_page(app, client, officer):
    assert client.post("/goals/add-indicator", data={"code": "GX-021"}).location.endswith("/goals/?indicator=GX-021")
    client.post("/goals/new", data=PROJECT)
    response = client.post("/goals/add-indicator", data={"code": "GX-021"})
    assert response.status_code == 302 and "/edit" in response.location
    assert [row.indicator_code for row in the_goal(app).rows] == ["GX-021"]
    page = client.get("/goals/?indicator=WJ-013").get_data(as_text=True)
    assert "加入哪个项目" in page and "2025年基本公共卫生服务项目" in page


def test_other_departments_cannot_see_or_edit(app, client, officer, make_user, login):
    client.post("/goals/new", data=PROJECT)
    goal = the_goal(app)
    make_user("department", "103", username="minzheng")
    client.post("/logout")
    login(client, "minzheng")
    assert client.get(f"/goals/{goal.id}").status_code == 403
    assert client.get(f"/goals/{goal.id}/edit").status_code == 403
    assert client.get(f"/goals/{goal.id}/export.xlsx").status_code == 403
    assert "2025年基本公共卫生服务项目" not in client.get("/goals/").get_data(as_text=True)
    assert client.get("/usage/").status_code == 403


def test_usage_page_for_finance(app, client, world, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    page = client.get("/usage/").get_data(as_text=True)
    assert "跨部门同义或近似指标" in page and "工程竣工验收合格率" in page
    assert "从未被引用" in page and "县卫生健康局" in page


def test_check_needs_json(app, client, officer):
    client.post("/goals/new", data=PROJECT)
    goal = the_goal(app)
    response = client.post(f"/goals/{goal.id}/check", data="x", headers={"X-CSRFToken": client.csrf_token()})
    assert response.status_code == 400


def test_custom_row_sort_delete_and_proposal_reach_finance(app, client, officer, make_user, login):
    client.post("/goals/new", data=PROJECT)
    goal = the_goal(app)
    client.post("/goals/add-indicator", data={"code": "GX-021"})
    client.post("/goals/add-indicator", data={"code": "WJ-001"})
    goal = the_goal(app)
    assert client.post(f"/goals/{goal.id}/edit", csrf=False,
                       data=edit_form(goal_services.goal_to_dict(goal), goal.row_version, client,
                                      action="sort")).status_code == 302
    goal = the_goal(app)
    assert [row.indicator_code for row in goal.rows] == ["WJ-001", "GX-021"]  # 产出 before 满意度
    client.post(f"/goals/{goal.id}/edit", csrf=False,
                data=edit_form(goal_services.goal_to_dict(goal), goal.row_version, client, action="custom"))
    goal = the_goal(app)
    data = goal_services.goal_to_dict(goal)
    assert data["rows"][-1]["code"] == "" and len(data["rows"]) == 3
    data["rows"][-1].update(name="家庭医生签约人数", target="5000", unit="人")
    client.post(f"/goals/{goal.id}/edit", csrf=False, data=edit_form(data, goal.row_version, client,
                                                                     action=f"propose:{data['rows'][-1]['id']}"))
    goal = the_goal(app)
    assert goal.rows[-1].name == "家庭医生签约人数" and goal.rows[-1].proposed
    data = goal_services.goal_to_dict(goal)
    client.post(f"/goals/{goal.id}/edit", csrf=False,
                data=edit_form(data, goal.row_version, client, action=f"delete:{data['rows'][1]['id']}"))
    assert [row.name for row in the_goal(app).rows] == ["适龄儿童国家免疫规划疫苗接种率", "家庭医生签约人数"]
    make_user("finance", username="caizheng")
    client.post("/logout")
    login(client, "caizheng")
    page = client.get("/usage/").get_data(as_text=True)
    assert "部门建议入库的自拟指标（1 项）" in page and "家庭医生签约人数" in page


def test_a_search_on_the_drafting_page_is_logged_and_counts_as_used_when_a_hit_is_added(app, client, officer):
    client.post("/goals/new", data=PROJECT)
    goal = the_goal(app)
    page = client.get(f"/goals/{goal.id}/edit?q=接种率").get_data(as_text=True)
    reference = re.search(r'name="ql" value="([^"]+)"', page).group(1)
    shown = re.search(r'name="shown" value="([^"]+)"', page).group(1).split()
    assert len(shown) >= 2
    form = edit_form(goal_services.goal_to_dict(goal), goal.row_version, client, action="add", pick=shown[1],
                     ql=reference, shown=" ".join(shown))
    assert client.post(f"/goals/{goal.id}/edit", csrf=False, data=form).status_code == 302
    assert [row.indicator_code for row in the_goal(app).rows] == [shown[1]]
    with app.extensions["kb"].sessions() as session:
        [entry] = session.scalars(select(QueryLogEntry)).all()
    assert (entry.query, entry.channel, entry.department, entry.opened_rank) == ("接种率", "page", "102", 2)

"""运行监控 pages and ``GET /api/v1/monitoring``: who may open, fill, read and close; the forms' problems;
the board (counts, chart, follow-up in one action, export); the Excel import refusal; API scoping."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from kb.models import AuditEntry, Department, MonitoringEntry, MonitoringRound, MonitoringRuleVersion, User
from kb.models.monitoring import Light
from tests.kb.services.monitoring_world import build_world
from tests.webapp.conftest import PASSWORD


@pytest.fixture
def county(app, make_user):
    """Departments 102 and 103 with the worked example's projects; one user per role."""
    users = {"health": make_user("department", "102", username="weijian"),
             "civil": make_user("department", "103", username="minzheng"),
             "finance": make_user("finance", username="caizheng"),
             "expert": make_user("expert", username="zhuanjia"),
             "admin": make_user("admin", username="guanli")}
    with app.extensions["kb"].sessions() as session:
        def department(code, name):
            found = session.scalar(select(Department).where(Department.code == code))
            found.name = name
            return found
        build_world(session, department)
        session.commit()
    return users


def db(app):
    return app.extensions["kb"].sessions()


def open_july(client) -> int:
    response = client.post("/monitoring/rounds", data={"name": "2024 年 1—7 月绩效运行监控", "cut_off": "2024-07-31",
                                                       "min_amount": "50"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/monitoring/(\d+)", response.headers["Location"]).group(1))


def entry_id(app, round_id: int, project: str) -> int:
    with db(app) as session:
        return next(e.id for e in session.scalars(select(MonitoringEntry).where(MonitoringEntry.round_id == round_id))
                    if e.project.name.startswith(project))


def indicator_ids(app, entry: int) -> dict[str, int]:
    with db(app) as session:
        return {item.name: item.id for item in session.get(MonitoringEntry, entry).indicators}


def fill_a(app, client, round_id, reason="招标延迟"):
    a = entry_id(app, round_id, "A ")
    item = indicator_ids(app, a)["服务人数"]
    return a, client.post(f"/monitoring/{round_id}/entries/{a}", data={
        "budget": "200", "executed": "60", f"ind-{item}-expected": "420", f"ind-{item}-value_to_date": "260",
        f"ind-{item}-deviation_reason": reason, f"ind-{item}-corrective_measure": "加快进度"})


def as_role(client, login, role):
    login(client, {"department": "weijian", "finance": "caizheng", "expert": "zhuanjia", "admin": "guanli"}[role])
    return client


def test_finance_opens_a_round_and_the_department_fills_it(app, client, login, county):
    login(client, "caizheng")
    assert "运行监控" in client.get("/monitoring/").get_data(as_text=True)
    round_id = open_july(client)
    page = client.get(f"/monitoring/{round_id}").get_data(as_text=True)
    assert "C 城乡低保" in page and "时间进度 58.33 %" in page
    client.post("/logout")
    login(client, "weijian")
    nav = client.get("/").get_data(as_text=True)
    assert 'href="/monitoring/"' in nav
    page = client.get(f"/monitoring/{round_id}").get_data(as_text=True)
    assert "A 基本公共卫生服务" in page and "C 城乡低保" not in page  # only its own department's projects
    a, response = fill_a(app, client, round_id)
    assert response.status_code == 302
    with db(app) as session:
        entry = session.get(MonitoringEntry, a)
        assert (entry.budget_light, entry.goal_light, entry.filled_by) == (Light.RED, Light.YELLOW, "weijian")


def test_a_fill_with_problems_shows_them_and_saves_nothing(app, client, login, county):
    login(client, "caizheng")
    round_id = open_july(client)
    client.post("/logout")
    login(client, "weijian")
    a, response = fill_a(app, client, round_id, reason="")
    assert response.status_code == 422
    assert "请填写偏差原因" in response.get_data(as_text=True)
    with db(app) as session:
        assert session.get(MonitoringEntry, a).executed is None


@pytest.mark.parametrize("role, status", [("department", 403), ("expert", 403), ("admin", 403), ("finance", 302)])
def test_only_finance_opens_rounds(app, client, login, county, role, status):
    as_role(client, login, role)
    response = client.post("/monitoring/rounds", data={"name": "x", "cut_off": "2024-07-31"})
    assert response.status_code == status


@pytest.mark.parametrize("role, own, other", [("department", 302, 403), ("finance", 302, 302), ("expert", 403, 403),
                                              ("admin", 403, 403)])
def test_who_fills_which_project(app, client, login, county, role, own, other):
    finance = app.test_client()
    login(finance, "caizheng")
    round_id = open_july(finance)
    as_role(client, login, role)
    c = entry_id(app, round_id, "C ")
    items = indicator_ids(app, c)
    response = client.post(f"/monitoring/{round_id}/entries/{c}", data={
        "budget": "80", "executed": "44", f"ind-{items['低保对象满意度']}-expected": "95",
        f"ind-{items['救助政策落实情况']}-outlook": "确定能"})
    _, own_response = fill_a(app, client, round_id)
    assert (own_response.status_code, response.status_code) == (own, other)
    # Reading follows the same line for departments; overseers read everything.
    reading = client.get(f"/monitoring/{round_id}/entries/{c}").status_code
    assert reading == (403 if role == "department" else 200)


def test_closed_rounds_refuse_filling(app, client, login, county):
    login(client, "caizheng")
    round_id = open_july(client)
    assert client.post(f"/monitoring/{round_id}/close").status_code == 302
    _, response = fill_a(app, client, round_id)
    assert response.status_code == 409
    with db(app) as session:
        assert session.get(MonitoringRound, round_id).closed_by == "caizheng"


def _fill_worked_example(app, client, round_id):
    fill_a(app, client, round_id)
    b = entry_id(app, round_id, "B ")
    items = indicator_ids(app, b)
    assert client.post(f"/monitoring/{round_id}/entries/{b}", data={
        "budget": "100", "executed": "45", f"ind-{items['设备到位时间']}-expected": "40",
        f"ind-{items['设备到位时间']}-deviation_reason": "供货延迟", f"ind-{items['设备到位时间']}-corrective_measure": "督促",
        f"ind-{items['设备验收合格率']}-expected": "100"}).status_code == 302


def test_board_follow_up_round_and_rate_changes(app, client, login, county):
    login(client, "caizheng")
    july = open_july(client)
    _fill_worked_example(app, client, july)
    board = client.get(f"/monitoring/{july}/board").get_data(as_text=True)
    assert re.search(r'data-kind="budget">.*?data-light="red">1<', board, re.S)
    assert 'data-department="102"' in board and "<script" not in board.split("</footer>")[0].split("<main")[1]
    response = client.post(f"/monitoring/{july}/follow-up", data={"cut_off": "2024-11-30"})
    assert response.status_code == 302
    november = int(re.search(r"/monitoring/(\d+)", response.headers["Location"]).group(1))
    with db(app) as session:
        names = {e.project.name for e in session.get(MonitoringRound, november).entries}
    assert names == {"A 基本公共卫生服务", "B 医疗设备购置"}
    a = entry_id(app, november, "A ")
    item = indicator_ids(app, a)["服务人数"]
    client.post(f"/monitoring/{november}/entries/{a}", data={"budget": "200", "executed": "190",
                                                             f"ind-{item}-expected": "500"})
    board = client.get(f"/monitoring/{november}/board").get_data(as_text=True)
    assert "预算执行红灯预警率下降 100%" in board and "<svg" in board and "预算执行黄灯" in board
    workbook = load_workbook(io.BytesIO(client.get(f"/monitoring/{november}/board.xlsx").data))
    assert workbook.sheetnames == ["项目监控表", "绩效指标", "部门整体监控", "预警率变化"]


def test_department_board_and_export_show_only_its_projects(app, client, login, county):
    finance = app.test_client()
    login(finance, "caizheng")
    july = open_july(finance)
    login(client, "minzheng")
    board = client.get(f"/monitoring/{july}/board").get_data(as_text=True)
    assert 'data-department="103"' in board and 'data-department="102"' not in board
    assert "对本轮预警项目再次监控" not in board
    rows = list(load_workbook(io.BytesIO(client.get(f"/monitoring/{july}/board.xlsx").data))["项目监控表"]
                .iter_rows(min_row=3, values_only=True))
    assert {row[0] for row in rows} == {"县民政局"}
    assert client.post(f"/monitoring/{july}/follow-up", data={"cut_off": "2024-11-30"}).status_code == 403


def _execution_file(rows) -> io.BytesIO:
    workbook = Workbook()
    workbook.active.append(["项目名称", "全年预算数", "执行数"])
    for row in rows:
        workbook.active.append(list(row))
    stream = io.BytesIO()
    workbook.save(stream)
    stream.seek(0)
    return stream


def test_a_refused_import_writes_nothing_and_lists_rows(app, client, login, county):
    login(client, "caizheng")
    july = open_july(client)
    response = client.post(f"/monitoring/{july}/import", content_type="multipart/form-data", data={
        "file": (_execution_file([("A 基本公共卫生服务", 200, 60), ("B 医疗设备购置", 100, "x")]), "执行.xlsx")})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "未导入任何数据" in text and "第 3 行" in text
    with db(app) as session:
        assert all(e.executed is None for e in session.scalars(select(MonitoringEntry)))
    good = client.post(f"/monitoring/{july}/import", content_type="multipart/form-data", data={
        "file": (_execution_file([("A 基本公共卫生服务", 200, 60)]), "执行.xlsx")})
    assert good.status_code == 302
    with db(app) as session:
        assert session.get(MonitoringEntry, entry_id(app, july, "A ")).budget_light is Light.RED


def test_rules_page_changes_are_audited_and_finance_only(app, client, login, county):
    login(client, "weijian")
    assert client.get("/monitoring/rules").status_code == 200
    assert client.post("/monitoring/rules", data={"red_gap": "30"}).status_code == 403
    client.post("/logout")
    login(client, "caizheng")
    form = {"min_amount": "50", "yellow_gap": "10", "red_gap": "25", "green_completion": "100",
            "yellow_completion": "80", "qualitative_certain": "green", "qualitative_possible": "yellow",
            "qualitative_impossible": "red", "warning_lights": ["red", "yellow"], "note": "试行"}
    bad = client.post("/monitoring/rules", data={**form, "red_gap": "5"})
    assert bad.status_code == 422 and "不能大于红灯偏差" in bad.get_data(as_text=True)
    assert client.post("/monitoring/rules", data=form).status_code == 302
    with db(app) as session:
        assert session.scalars(select(MonitoringRuleVersion)).one().rules["budget"]["red_gap"] == 25
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "monitoring.rules")).one().actor == "caizheng"
    assert "red_gap: 25" in client.get("/monitoring/rules.yaml").get_data(as_text=True)


def _token(client, username):
    response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_api_lights_with_token_and_department_scoping(app, client, login, county):
    finance = app.test_client()
    login(finance, "caizheng")
    july = open_july(finance)
    fill_a(app, finance, july)
    api = app.test_client()
    assert api.get(f"/api/v1/monitoring?round={july}").status_code == 401
    everything = api.get(f"/api/v1/monitoring?round={july}", headers=_token(api, "zhuanjia")).get_json()
    assert {"project": "A 基本公共卫生服务", "department": "县卫生健康局", "budget_light": "red",
            "goal_light": "yellow"} in everything
    assert len(everything) == 4
    own = api.get(f"/api/v1/monitoring?round={july}", headers=_token(api, "minzheng")).get_json()
    assert {row["department"] for row in own} == {"县民政局"} and len(own) == 2
    assert all(row["budget_light"] in (None, "green", "yellow", "red") for row in everything)
    missing = api.get("/api/v1/monitoring?round=999", headers=_token(api, "caizheng"))
    assert missing.status_code == 404 and "不存在" in missing.get_json()["message"]
    assert api.get("/api/v1/monitoring", headers=_token(api, "caizheng")).status_code == 422


def test_a_department_account_without_a_department_sees_no_monitoring(app, client, login, county):
    finance = app.test_client()
    login(finance, "caizheng")
    july = open_july(finance)
    with db(app) as session:
        session.get(User, county["health"].id).department_id = None
        session.commit()
    login(client, "weijian")
    assert client.get(f"/monitoring/{july}").status_code == 403
    assert client.get(f"/monitoring/{july}/board").status_code == 403

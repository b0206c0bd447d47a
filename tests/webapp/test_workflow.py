"""Workflow pages: the journey through the test client, the role × route matrix, audit page, board."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from kb.models import AuditEntry, Department, IndicatorSet


def set_of(app, code: str, current: bool = True) -> IndicatorSet:
    with app.extensions["kb"].sessions() as session:
        department = session.scalar(select(Department).where(Department.code == code))
        sets = [s for s in department.indicator_sets if s.is_current == current]
        return sets[-1]


@pytest.fixture
def people(world, make_user):
    return {
        "jiaoyu": make_user("department", "101", username="jiaoyu"),
        "weijian": make_user("department", "102", username="weijian"),
        "caizheng": make_user("finance", username="caizheng"),
        "zhuanjia": make_user("expert", username="zhuanjia"),
        "guanli": make_user("admin", username="guanli"),
    }


def as_user(app, login, username):
    client = app.test_client()
    login(client, username)
    return client


def test_journey_through_the_pages(world, people, login):
    app = world
    department = as_user(app, login, "jiaoyu")
    first = set_of(app, "101")
    assert "审定流程与版本" in department.get("/departments/101").get_data(as_text=True)
    page = department.get("/workflow/departments/101/versions").get_data(as_text=True)
    assert "第 1 版" in page
    response = department.post(f"/workflow/sets/{first.id}/start_next")
    assert response.status_code == 302
    draft = set_of(app, "101")
    assert (draft.version, draft.status.value) == (2, "draft")
    assert department.post(f"/workflow/sets/{draft.id}/submit").status_code == 302

    finance = as_user(app, login, "caizheng")
    inbox_page = finance.get("/workflow/inbox").get_data(as_text=True)
    assert "待财政确认" in inbox_page
    assert '<span class="nav-badge" aria-label="2 项">2</span>' in inbox_page  # to confirm + to assign
    response = finance.post(f"/workflow/sets/{draft.id}/assign",
                            data={"expert_id": str(people["zhuanjia"].id), "due_on": "2099-12-31"})
    assert response.status_code == 302
    assert finance.post(f"/workflow/sets/{draft.id}/confirm").status_code == 302

    expert = as_user(app, login, "zhuanjia")
    page = expert.get(f"/workflow/sets/{draft.id}").get_data(as_text=True)
    assert "同意审定" in page and "提交意见" in page
    response = expert.post(f"/workflow/sets/{draft.id}/comments",
                           data={"indicator_code": "JY-001", "kind": "revise", "body": "请说明资助标准"})
    assert response.status_code == 302
    assert "待答复" in department.get(f"/workflow/sets/{draft.id}").get_data(as_text=True)
    # An open 建议修改 needs a decision: the plain 同意审定 is refused, the page asks for a reason.
    refused = expert.post(f"/workflow/sets/{draft.id}/certify")
    assert refused.status_code == 409 and "尚未答复" in refused.get_data(as_text=True)
    assert "data-certify-override" in expert.get(f"/workflow/sets/{draft.id}").get_data(as_text=True)
    assert expert.post(f"/workflow/sets/{draft.id}/certify", data={"reason": "标准见附件，下一版补充"}).status_code == 302
    assert set_of(app, "101").status.value == "certified"
    frozen_page = department.get(f"/workflow/sets/{draft.id}").get_data(as_text=True)
    assert "待答复" not in frozen_page and "审定时未答复" in frozen_page and 'name="answer"' not in frozen_page
    assert set_of(app, "101", current=False).status.value == "superseded"

    diff = department.get("/workflow/departments/101/diff?old=1&new=2").get_data(as_text=True)
    assert 'data-count="added">0' in diff and "两个版本的指标完全相同" in diff

    with app.extensions["kb"].sessions() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "indicator_set")
                                  .order_by(AuditEntry.id)).all()
    assert actions[-8:] == ["start_next", "submit", "assign_experts", "confirm", "comment", "expert_certify",
                            "supersede", "certify"]


def test_refused_transition_shows_a_chinese_conflict_page(world, people, login):
    finance = as_user(world, login, "caizheng")
    certified = set_of(world, "101")
    response = finance.post(f"/workflow/sets/{certified.id}/confirm")
    assert response.status_code == 409
    assert "专家已审定" in response.get_data(as_text=True)


def test_return_needs_a_reason(world, people, login):
    department = as_user(world, login, "jiaoyu")
    department.post(f"/workflow/sets/{set_of(world, '101').id}/start_next")
    draft = set_of(world, "101")
    department.post(f"/workflow/sets/{draft.id}/submit")
    finance = as_user(world, login, "caizheng")
    assert finance.post(f"/workflow/sets/{draft.id}/return", data={"reason": ""}).status_code == 409
    assert finance.post(f"/workflow/sets/{draft.id}/return", data={"reason": "缺少满意度指标"}).status_code == 302
    page = department.get(f"/workflow/sets/{draft.id}").get_data(as_text=True)
    assert "缺少满意度指标" in page and "部门梳理中" in page


# role × route: GET pages. "own" = department 101 (jiaoyu), "other" = 102 (weijian).
PAGES = {
    "/workflow/board": {"jiaoyu": 200, "caizheng": 200, "zhuanjia": 200, "guanli": 200},
    "/workflow/board.xlsx": {"jiaoyu": 200, "caizheng": 200, "zhuanjia": 200, "guanli": 200},
    "/workflow/inbox": {"jiaoyu": 200, "caizheng": 200, "zhuanjia": 200, "guanli": 200},
    "/workflow/sets/{own}": {"jiaoyu": 200, "weijian": 403, "caizheng": 200, "zhuanjia": 200, "guanli": 200},
    "/workflow/departments/101/versions": {"jiaoyu": 200, "weijian": 403, "caizheng": 200, "zhuanjia": 200,
                                           "guanli": 200},
    "/workflow/changes": {"jiaoyu": 200, "caizheng": 200, "zhuanjia": 403, "guanli": 200},
    "/workflow/changes/new": {"jiaoyu": 200, "caizheng": 403, "zhuanjia": 403, "guanli": 403},
    "/audit/": {"jiaoyu": 403, "weijian": 403, "caizheng": 403, "zhuanjia": 403, "guanli": 200},
}


@pytest.mark.parametrize("username", ["jiaoyu", "weijian", "caizheng", "zhuanjia", "guanli"])
def test_page_permissions(world, people, login, username):
    client = as_user(world, login, username)
    own = set_of(world, "101").id
    got = {path: client.get(path.format(own=own)).status_code for path in PAGES}
    assert got == {path: PAGES[path].get(username, 200) for path in PAGES}


# role × route: POST actions that must be refused to the wrong people (before any service runs).
@pytest.mark.parametrize("username, path, expected", [
    ("weijian", "/workflow/sets/{own}/start_next", 403),   # another department
    ("guanli", "/workflow/sets/{own}/start_next", 403),    # admins do no business (三员分立)
    ("zhuanjia", "/workflow/sets/{own}/start_next", 403),  # refused by the service (wrong role for this step)
    ("jiaoyu", "/workflow/sets/{own}/assign", 403),
    ("zhuanjia", "/workflow/sets/{own}/assign", 403),
    ("jiaoyu", "/workflow/sets/{own}/comments", 403),
    ("weijian", "/workflow/departments/101/start", 403),
    ("caizheng", "/workflow/changes/new", 403),
])
def test_action_permissions(world, people, login, username, path, expected):
    client = as_user(world, login, username)
    response = client.post(path.format(own=set_of(world, "101").id), data={"reason": "x"})
    assert response.status_code == expected
    assert set_of(world, "101").version == 1


def test_csrf_is_required(world, people, login):
    client = as_user(world, login, "jiaoyu")
    response = client.post(f"/workflow/sets/{set_of(world, '101').id}/start_next", csrf=False)
    assert response.status_code == 400
    assert set_of(world, "101").version == 1


def test_audit_page_filters_and_is_read_only(world, people, login):
    admin = as_user(world, login, "guanli")
    page = admin.get("/audit/?entity_type=indicator_set").get_data(as_text=True)
    assert "指标集" in page and "101 v1" in page
    with world.extensions["kb"].sessions() as session:
        entry_id = session.scalar(select(AuditEntry.id).where(AuditEntry.entity_key == "JY-001"))
    detail = admin.get(f"/audit/{entry_id}").get_data(as_text=True)
    assert "受益学生人数" in detail  # Chinese shown as text, not \\u escapes
    for method in ("post", "put", "delete"):
        assert getattr(admin, method)(f"/audit/{entry_id}").status_code in (403, 405)
    with world.extensions["kb"].sessions() as session:
        views = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "audit_log")).all()
    assert [v.actor for v in views] == ["guanli"]  # reading the log is itself logged
    nothing = admin.get("/audit/?actor=nobody").get_data(as_text=True)
    assert 'data-total>0' in nothing


def test_board_page_and_export(world, people, login):
    client = as_user(world, login, "caizheng")
    page = client.get("/workflow/board").get_data(as_text=True)
    assert page.count('aria-current="page"') == 1  # 推进情况 only, not 待办 of the same blueprint
    assert "<svg" in page and "is-pilot" in page and "未建立指标集" in page
    assert page.count('class="is-pilot"') == 8
    pilots = client.get("/workflow/board?pilots=1").get_data(as_text=True)
    assert pilots.count("data-department=") == 8
    response = client.get("/workflow/board.xlsx")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data))["推进情况"]
    assert sheet.max_row == 2 + 77


def test_change_request_pages(world, people, login):
    department = as_user(world, login, "jiaoyu")
    with world.extensions["kb"].sessions() as session:
        from kb.models import Indicator

        common = session.scalar(select(Indicator).where(Indicator.department_id.is_(None)).order_by(Indicator.code))
    form = department.get(f"/workflow/changes/new?kind=retire&code={common.code}").get_data(as_text=True)
    assert common.name in form
    response = department.post("/workflow/changes/new", data={"kind": "retire", "code": common.code, "reason": "已废止"})
    assert response.status_code == 302
    detail_url = response.headers["Location"]
    bad = department.post("/workflow/changes/new", data={"kind": "add", "code": "GX-NEW", "name": "", "reason": "需要"})
    assert bad.status_code == 422 and "field-error" in bad.get_data(as_text=True)
    other = as_user(world, login, "weijian")
    assert other.get(detail_url).status_code == 403
    finance = as_user(world, login, "caizheng")
    assert common.code in finance.get("/workflow/inbox").get_data(as_text=True)
    assert finance.post(detail_url + "/decide", data={"decision": "accept"}).status_code == 302
    assert "已采纳" in department.get(detail_url).get_data(as_text=True)


@pytest.mark.parametrize("rule, certified_after_two", [("majority", True), ("all", False)])
def test_certification_rule_is_a_setting(world, people, make_user, login, rule, certified_after_two):
    world.config["REVIEW_CERTIFICATION_RULE"] = rule
    experts = [people["zhuanjia"], make_user("expert", username="zhuanjia2"), make_user("expert", username="zhuanjia3")]
    department = as_user(world, login, "jiaoyu")
    department.post(f"/workflow/sets/{set_of(world, '101').id}/start_next")
    draft = set_of(world, "101")
    department.post(f"/workflow/sets/{draft.id}/submit")
    finance = as_user(world, login, "caizheng")
    finance.post(f"/workflow/sets/{draft.id}/assign",
                 data={"expert_id": [str(e.id) for e in experts], "due_on": "2099-12-31"})
    finance.post(f"/workflow/sets/{draft.id}/confirm")
    for expert in experts[:2]:
        assert as_user(world, login, expert.username).post(f"/workflow/sets/{draft.id}/certify").status_code == 302
    assert (set_of(world, "101").status.value == "certified") is certified_after_two


def test_a_failing_badge_does_not_break_pages(world, people, login, monkeypatch):
    from webapp import templating

    monkeypatch.setitem(templating.BADGES, "workflow.inbox", lambda: 1 / 0)
    response = as_user(world, login, "caizheng").get("/workflow/board")
    assert response.status_code == 200 and "nav-badge" not in response.get_data(as_text=True)

"""检索日志 from the web: the page and the API log a search (role and department, no person), the page
reports the hit opened, and finance reads the 检索分析 page (others get 403)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from kb.models import QueryLogEntry
from kb.models.base import utcnow
from kb.services.query_log import DayCount, add_search
from tests.webapp.conftest import PASSWORD
from webapp.query_logging import flush_queued
from webapp.views.search_insights import CHART_HEIGHT, chart

_REF = re.compile(r'data-log-ref="([^"]+)"')


def entries(app) -> list[QueryLogEntry]:
    with app.extensions["kb"].sessions() as session:
        return list(session.scalars(select(QueryLogEntry).order_by(QueryLogEntry.id)))


@pytest.fixture
def department_client(world, client, make_user, login):
    make_user("department", "101", username="jiaoyu")
    login(client, "jiaoyu")
    return client


def test_a_page_search_is_logged_with_role_and_department_and_nobody(app, department_client):
    page = department_client.get("/?q=高血压　管理&level1=效益指标").get_data(as_text=True)
    [entry] = entries(app)
    assert (entry.query, entry.channel, entry.role, entry.department) == ("高血压 管理", "page", "department", "101")
    assert entry.filters == {"level1": "效益指标"}
    assert entry.hits == int(re.search(r"data-total>(\d+)<", page).group(1)) > 0
    assert entry.opened_rank is None
    row = {column: getattr(entry, column) for column in QueryLogEntry.__table__.columns.keys()}
    assert "jiaoyu" not in str(row) and "127.0.0.1" not in str(row)  # no user name, no address anywhere


def test_only_a_new_search_is_logged_not_its_next_pages_nor_the_home_page(app, department_client):
    department_client.get("/")
    first = department_client.get("/?q=率").get_data(as_text=True)
    reference = _REF.search(first).group(1)
    second_page = re.search(r'href="([^"]*page=2[^"]*)"', first).group(1).replace("&amp;", "&")
    assert f"ql={reference}" in second_page  # the page links carry the search's reference
    page_two = department_client.get(second_page).get_data(as_text=True)
    assert _REF.search(page_two).group(1) == reference and 'data-rank-offset="20"' in page_two
    department_client.get("/?q=率&page=3")  # a later page reached without the reference: not a search either
    facet = re.search(r'data-facet="level1".*?href="([^"]+)"', page_two, re.S).group(1).replace("&amp;", "&")
    assert "ql=" not in facet  # a filter makes another search
    department_client.get(facet)
    assert [entry.query for entry in entries(app)] == ["率", "率"]
    assert department_client.post("/search/opened", data={"ref": reference, "rank": "23"}).status_code == 204
    assert entries(app)[0].opened_rank == 23 and entries(app)[1].filters != {}


def test_api_search_and_recommend_are_logged_by_channel(app, world, client, make_user):
    make_user("finance", username="caizheng")
    token = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    hits = client.get("/api/v1/search?q=学生资助", headers=headers).get_json()["total"]
    client.get("/api/v1/search?q=学生资助&offset=20", headers=headers)  # a next page: not a new search
    client.get("/api/v1/recommend?text=基层高血压糖尿病患者健康管理项目&department=102", headers=headers)
    assert entries(app) == []  # queued, not written on the request
    assert flush_queued(app) == 2
    api, recommend = entries(app)
    assert (api.channel, api.query, api.hits, api.role, api.department) == ("api", "学生资助", hits, "finance", None)
    assert (recommend.channel, recommend.filters) == ("recommend", {"department": "102"})


def test_the_page_reports_the_first_opened_hit(app, department_client):
    page = department_client.get("/?q=满意度").get_data(as_text=True)
    reference = _REF.search(page).group(1)
    assert "js/querylog.js" in page
    assert department_client.post("/search/opened", data={"ref": reference, "rank": "2"}).status_code == 204
    assert department_client.post("/search/opened", data={"ref": reference, "rank": "5"}).status_code == 204
    assert entries(app)[0].opened_rank == 2  # the first open counts


def test_a_forged_reference_or_rank_is_refused_and_changes_nothing(app, department_client):
    page = department_client.get("/?q=满意度").get_data(as_text=True)
    reference = _REF.search(page).group(1)
    forged = department_client.post("/search/opened", data={"ref": "1.forged", "rank": "1"})
    assert forged.status_code == 400 and "ref" in forged.get_json()["message"]
    assert department_client.post("/search/opened", data={"ref": reference, "rank": "0"}).status_code == 400
    assert department_client.post("/search/opened", data={"ref": reference, "rank": str(2**40)}).status_code == 400
    assert department_client.post("/search/opened", data={"ref": reference, "rank": "二"}).status_code == 400
    assert department_client.post("/search/opened", data={"ref": reference, "rank": "1"}, csrf=False).status_code in (400, 403)
    assert entries(app)[0].opened_rank is None


def test_a_search_still_answers_when_the_log_cannot_be_written(app, department_client):
    engine = app.extensions["kb"].engine
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE query_log RENAME TO query_log_away")  # the worst case: no log table
    try:
        response = department_client.get("/?q=满意度")
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE query_log_away RENAME TO query_log")
    assert response.status_code == 200 and "data-total" in response.get_data(as_text=True)
    assert "data-log-ref" not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["department", "expert"])
def test_only_finance_and_admin_open_the_insights_page(world, client, make_user, login, role):
    make_user(role, "101" if role == "department" else None, username="someone")
    login(client, "someone")
    response = client.get("/search-insights")
    assert response.status_code == 403
    assert "检索分析" not in client.get("/").get_data(as_text=True)  # no nav item either


def test_finance_sees_zero_few_and_unopened_queries_with_counts(app, world, client, make_user, login):
    now = utcnow()
    with app.extensions["kb"].sessions() as session:
        for query, hits, days_ago in (("看病报销", 0, 1), ("看病报销", 0, 2), ("修房子", 0, 40),
                                      ("防洪标准", 2, 1), ("道路 养护", 9, 3)):
            add_search(session, query=query, hits=hits, role="department", channel="page",
                       at=now - dt.timedelta(days=days_ago))
        session.commit()
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    page = client.get("/search-insights").get_data(as_text=True)
    assert "检索分析" in page and 'href="/search-insights"' in page  # the page and its nav item
    zero = page.split('id="zero-hit-queries"')[1].split("</table>")[0]
    assert re.search(r"看病报销</a></td>\s*<td class=\"num\">2<", zero) and "修房子" not in zero  # 40 days ago
    assert "防洪标准" in page.split('id="few-hit-queries"')[1].split("</table>")[0]
    assert "道路 养护" in page.split('id="unopened-queries"')[1].split("</table>")[0]
    assert re.search(r"data-total-searches>4<", page) and re.search(r"data-zero-searches>2<", page)
    assert "<svg" in page and "<polyline" in page
    longer = client.get("/search-insights?days=90").get_data(as_text=True)
    assert "修房子" in longer.split('id="zero-hit-queries"')[1].split("</table>")[0]


def test_the_chart_scales_bars_to_the_busiest_day_and_the_share_to_the_height():
    days = [DayCount(dt.date(2026, 12, 1), 4, 1), DayCount(dt.date(2026, 12, 2), 0, 0), DayCount(dt.date(2026, 12, 3), 2, 2)]
    drawn = chart(days)
    busiest, empty, all_zero = drawn["bars"]
    assert busiest["height"] == CHART_HEIGHT and busiest["zero_height"] == CHART_HEIGHT / 4
    assert empty["height"] == 0 and all_zero["height"] == all_zero["zero_height"] == CHART_HEIGHT / 2
    assert [y for _, y in drawn["share_points"]] == [CHART_HEIGHT * 0.75, 0]  # 25 % and 100 %; no point on an empty day
    assert drawn["top"] == 4 and "12-01" in busiest["title"]


def test_queued_api_searches_are_written_by_a_later_request_once_due(app, world, client, make_user, monkeypatch):
    import webapp.query_logging

    make_user("finance", username="caizheng")
    token = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/api/v1/search?q=学生资助", headers=headers)
    assert entries(app) == []
    monkeypatch.setattr(webapp.query_logging, "FLUSH_SECONDS", 0.0)
    client.get("/api/v1/search?q=满意度", headers=headers)  # due: this request writes both
    assert [entry.query for entry in entries(app)] == ["学生资助", "满意度"]

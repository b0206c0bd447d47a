"""In the browser: opening a hit from the results is recorded in the query log (querylog.js sends it),
and finance reads it on 检索分析."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from kb.models import QueryLogEntry


def _entries(live_server) -> list[QueryLogEntry]:
    with live_server.app.extensions["kb"].sessions() as session:
        return list(session.scalars(select(QueryLogEntry).order_by(QueryLogEntry.id)))


def _wait_for(condition, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return condition()


@pytest.mark.e2e
def test_clicking_a_hit_records_its_rank_and_finance_sees_the_search(page, new_page, live_server, login, screenshot):
    login(page, "jiaoyu")
    page.goto(live_server.url + "/?q=满意度")
    second = page.locator("ol.hits li.hit a[data-hit]").nth(1)
    code = second.get_attribute("data-hit")
    second.click()
    page.wait_for_url(f"**/indicators/{code}")
    assert _wait_for(lambda: _entries(live_server)[0].opened_rank) == 2
    [entry] = _entries(live_server)
    assert (entry.query, entry.role, entry.department) == ("满意度", "department", "101")

    page.goto(live_server.url + "/?q=qqxxzzkk")  # a zero-hit search for the report
    assert page.locator("[data-total]").inner_text() == "0"
    page = new_page()  # finance, in a browser of its own (clearing cookies raced the page's own requests)
    login(page, "caizheng")
    page.goto(live_server.url + "/search-insights")
    assert "qqxxzzkk" in page.locator("#zero-hit-queries").inner_text()
    assert page.locator("svg[data-chart]").count() == 1
    screenshot(page, "search-insights")


@pytest.mark.e2e
def test_copying_from_a_hit_records_its_rank(page, live_server, login):
    login(page, "caizheng")
    page.goto(live_server.url + "/?q=满意度")
    page.locator("ol.hits li.hit .hit-meta").nth(2).select_text()
    page.keyboard.press("Control+C")
    assert _wait_for(lambda: _entries(live_server)[0].opened_rank) == 3


@pytest.mark.e2e
def test_finance_confirms_or_rejects_a_guessed_word_from_the_insights(page, new_page, live_server, login, screenshot):
    login(page, "jiaoyu")
    page.goto(live_server.url + "/?q=修房子")  # results, none opened: listed under 结果从未被打开
    assert int(page.locator("[data-total]").inner_text()) > 0
    page = new_page()
    login(page, "caizheng")
    page.goto(live_server.url + "/search-insights")
    page.locator("#unopened-queries tr", has_text="修房子").get_by_role("link", name="处理").click()
    page.wait_for_url("**/search-insights/query?q=*")
    row = page.locator('tr[data-guess="房子→住房"]')
    assert "通用同义词库" in row.inner_text()
    screenshot(page, "search-insights-query")
    row.get_by_role("button", name="确认为同义词").click()
    page.wait_for_url("**/search-insights/query?q=*")
    assert "已新增同义词组" in page.locator("body").inner_text()
    assert "房子、住房" in page.locator("#acting-groups").inner_text()
    assert page.locator('tr[data-guess="房子→住房"]').count() == 0

    wrong = page.locator('tr[data-guess="修房子→修改"]')  # shared characters only: a wrong guess
    wrong.get_by_placeholder("理由（可选）").fill("修改不是修房子")
    wrong.get_by_role("button", name="不是同义词").click()
    page.wait_for_url("**/search-insights/query?q=*")
    assert "已排除“修房子→修改”" in page.locator("body").inner_text()
    assert page.locator('tr[data-guess="修房子→修改"]').count() == 0
    assert "修改不是修房子" in page.locator("#rejected-guesses").inner_text()

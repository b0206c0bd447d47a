"""运行监控 in Chromium: finance opens a round → the 卫健局 fills in its projects (one red light) →
finance reads the board and starts the follow-up round for the warned projects in one action."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.models import Department
from tests.kb.services.monitoring_world import build_world


@pytest.fixture
def county(live_server):
    """The worked example's projects with approved goals, in the seed's departments 102 and 103."""
    with live_server.app.extensions["kb"].sessions() as session:
        build_world(session, lambda code, name: session.scalar(select(Department).where(Department.code == code)))
        session.commit()


def sign_out(page) -> None:
    page.click(".topbar-user button[type=submit]")
    page.wait_for_url("**/login**")


@pytest.mark.e2e
def test_open_fill_board_follow_up(page, live_server, login, county, screenshot):
    url = live_server.url
    # 1. Finance opens the July round for projects of 50 万元 and more.
    login(page, "caizheng")
    page.click(".mainnav a:has-text('运行监控')")
    page.fill("#name", "2024 年 1—7 月绩效运行监控")
    page.fill("#cut_off", "2024-07-31")
    page.click("#open-round button[type=submit]")
    page.wait_for_selector(".flash-success")
    round_url = page.url
    assert page.locator("#entries tbody tr").count() == 4
    sign_out(page)

    # 2. The 卫健局 sees only its two projects and fills them in; A is red on its budget.
    login(page, "weijian")
    page.goto(round_url)
    assert page.locator("#entries tbody tr").count() == 2
    page.click("#entries a:has-text('A 基本公共卫生服务')")
    page.fill("#executed", "60")
    row = page.locator("tr[data-indicator='服务人数']")
    row.locator("input[name$='-expected']").fill("420")
    page.click("button:has-text('保存并亮灯')")
    # 84 % expected is yellow: the reason and the measure are asked for, nothing is saved yet.
    page.wait_for_selector(".notice-error")
    assert "请填写偏差原因" in page.inner_text(".notice-error")
    row = page.locator("tr[data-indicator='服务人数']")
    row.locator("textarea[name$='-deviation_reason']").fill("上半年招标延迟")
    row.locator("textarea[name$='-corrective_measure']").fill("加快实施，第四季度集中开展")
    page.click("button:has-text('保存并亮灯')")
    page.wait_for_selector(".flash-success")
    a_row = page.locator("#entries tr", has_text="A 基本公共卫生服务")
    assert a_row.locator("[data-light=red]").count() == 1 and a_row.locator("[data-light=yellow]").count() == 1
    page.click("#entries a:has-text('B 医疗设备购置')")
    page.fill("#executed", "45")
    page.locator("tr[data-indicator='设备到位时间'] input[name$='-expected']").fill("28")
    page.locator("tr[data-indicator='设备验收合格率'] input[name$='-expected']").fill("100")
    page.click("button:has-text('保存并亮灯')")
    page.wait_for_selector(".flash-success")
    b_row = page.locator("#entries tr", has_text="B 医疗设备购置")
    assert b_row.locator("[data-light=yellow]").count() == 1 and b_row.locator("[data-light=green]").count() == 1
    sign_out(page)

    # 3. Finance reads the board: one red budget light, at 卫健局; then follows up the warned projects.
    login(page, "caizheng")
    page.goto(round_url + "/board")
    counts = page.locator("#light-counts tr[data-kind=budget]")
    assert counts.locator("td[data-light=red]").inner_text() == "1"
    assert counts.locator("td[data-light=yellow]").inner_text() == "1"
    assert page.locator("#departments tr[data-department='102'] [data-light=red]").count() == 1
    screenshot(page, "monitoring-board")
    page.fill("#follow-cut-off", "2024-11-30")
    page.click("#follow-up button[type=submit]")
    page.wait_for_selector(".flash-success")
    assert "2 个预警项目" in page.inner_text(".flash-success")
    names = page.locator("#entries tbody tr td:nth-child(2) a").all_inner_texts()
    assert sorted(names) == ["A 基本公共卫生服务", "B 医疗设备购置"]
    page.click("text=监控看板")
    assert page.locator("#rate-changes svg").count() == 1
    # Nothing filled in yet in November: the chart compares July with what has been reported so far.
    assert "预算执行红灯预警率" in page.inner_text("#rate-changes")

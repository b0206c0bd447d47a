"""The library in a real browser: find → filter → open → edit (finance); a department edits its own
draft and is refused elsewhere; two people editing the same indicator. Screenshots for the README."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_search_facet_detail_and_edit_as_finance(page, live_server, login, screenshot):
    login(page, "caizheng")
    screenshot(page, "search-home")
    box = page.locator("#top-q")
    box.press_sequentially("高血压", delay=60)
    suggestions = page.locator("#top-q-list li")
    suggestions.first.wait_for()  # instant suggestions while typing
    assert "高血压" in suggestions.first.inner_text()
    box.press_sequentially(" 管理", delay=30)
    box.press("Enter")  # no suggestion chosen: Enter searches for what was typed
    page.wait_for_url(re.compile(r"q="))
    assert page.locator("[data-hit=WJ-006]").count() == 1
    assert page.locator(".hit mark").count() > 0
    screenshot(page, "search-results")
    # Narrow to one department with its facet; the URL carries the filter (bookmarkable).
    page.locator("[data-facet=department] a", has_text="县卫生健康局").first.click()
    page.wait_for_url(re.compile(r"department=102"))
    departments = {hit.inner_text() for hit in page.locator(".hit-meta span:nth-child(2)").all()}
    assert departments == {"县卫生健康局"}
    page.locator("[data-hit=WJ-006]").click()
    page.wait_for_url(re.compile(r"/indicators/WJ-006$"))
    assert "高血压患者基层规范管理服务率" in page.locator("h1").inner_text()
    screenshot(page, "indicator-detail")
    page.locator("[data-edit]").click()
    page.fill("#target", "62")
    screenshot(page, "indicator-edit")
    page.locator("form.card button[type=submit]", has_text="保存").click()
    page.wait_for_url(re.compile(r"/indicators/WJ-006$"))
    assert "已保存" in page.locator(".flashes").inner_text()
    assert "≥62%" in page.locator(".target").inner_text()


def test_department_edits_its_own_draft_and_is_refused_elsewhere(page, live_server, login, screenshot):
    login(page, "xiangzhen")
    page.goto(f"{live_server.url}/indicators/WJ-001")
    page.locator("[data-copy]").click()
    page.wait_for_url(re.compile(r"/indicators/[^/]+/edit$"))
    new_code = page.url.rsplit("/", 2)[-2]
    page.fill("#name", "乡镇适龄儿童疫苗接种率")
    page.fill("#target", "-5")
    page.select_option("#nature", "定量")
    page.fill("#unit", "")
    page.locator("form.card button[type=submit]", has_text="保存").click()
    # Chinese messages next to the fields; nothing saved yet.
    assert page.locator("#unit-error").inner_text().startswith("定量指标必须填写计量单位")
    screenshot(page, "indicator-validation")
    page.fill("#unit", "%")
    page.fill("#target", "95")
    page.locator("form.card button[type=submit]", has_text="保存").click()
    page.wait_for_url(re.compile(rf"/indicators/{new_code}$"))
    assert page.locator("h1").inner_text() == "乡镇适龄儿童疫苗接种率"
    page.goto(f"{live_server.url}/departments/109")
    assert "乡镇适龄儿童疫苗接种率" in page.content()
    # Another department's indicator: no edit button, and the edit page itself is refused.
    page.goto(f"{live_server.url}/indicators/WJ-001")
    assert page.locator("[data-edit]").count() == 0
    response = page.goto(f"{live_server.url}/indicators/WJ-001/edit")
    assert response.status == 403
    assert "部门用户只能访问和修改本部门" in page.content()
    screenshot(page, "refused-other-department")
    assert page.goto(f"{live_server.url}/departments/102/indicators/new").status == 403
    assert page.goto(f"{live_server.url}/common/new").status == 403


def test_second_save_is_refused_with_what_changed(page, new_page, live_server, login, screenshot):
    other = new_page()
    login(page, "caizheng")
    login(other, "caiwu")
    page.goto(f"{live_server.url}/indicators/WJ-010/edit")
    other.goto(f"{live_server.url}/indicators/WJ-010/edit")
    page.fill("#definition", "财政甲修改的指标解释。")
    page.locator("form.card button[type=submit]", has_text="保存").click()
    page.wait_for_url(re.compile(r"/indicators/WJ-010$"))
    other.fill("#definition", "财政乙同时修改的指标解释。")
    other.locator("form.card button[type=submit]", has_text="保存").click()
    conflict = other.locator("[data-conflict]")
    conflict.wait_for()
    assert "别人刚刚修改了这项指标" in conflict.inner_text()
    assert "财政甲修改的指标解释。" in conflict.inner_text()
    assert other.input_value("#definition") == "财政乙同时修改的指标解释。"  # their input is kept
    screenshot(other, "edit-conflict")
    page.goto(f"{live_server.url}/indicators/WJ-010")
    assert "财政甲修改的指标解释。" in page.content()  # nothing was overwritten silently


def test_main_pages_for_the_readme(page, live_server, login, screenshot, browser):
    login(page, "jiaoyu")
    page.goto(f"{live_server.url}/departments")
    screenshot(page, "departments")
    page.goto(f"{live_server.url}/departments/102")
    screenshot(page, "department-set")
    page.goto(f"{live_server.url}/compare?codes=WJ-006&codes=WJ-007&codes=GX-001")
    assert page.locator(".compare-table").count() == 1
    screenshot(page, "compare")
    page.goto(f"{live_server.url}/common")
    screenshot(page, "common")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    try:
        mobile = phone.new_page()
        mobile.goto(f"{live_server.url}/login")
        mobile.fill("#username", "jiaoyu")
        mobile.fill("#password", "Qingshan#2025")
        mobile.click("button[type=submit]")
        mobile.goto(f"{live_server.url}/?q=学生")
        width = mobile.evaluate("document.documentElement.scrollWidth")
        assert width <= 392  # no sideways scrolling on a phone
        screenshot(mobile, "phone-search")
    finally:
        phone.close()


def test_keyboard_suggestion_and_reorder_buttons(page, live_server, login):
    login(page, "caizheng")
    box = page.locator("#home-q")
    box.press_sequentially("学生", delay=60)
    page.locator("#home-q-list li").first.wait_for()
    first = page.locator("#home-q-list li").first.inner_text()
    box.press("ArrowDown")
    box.press("Enter")  # the highlighted suggestion opens its indicator
    page.wait_for_url(re.compile(r"/indicators/[^/?]+$"))
    assert page.locator("h1").inner_text() in first
    page.goto(f"{live_server.url}/departments/104/reorder")
    codes = page.locator("input[name=order]")
    before = [codes.nth(i).get_attribute("value") for i in range(codes.count())]
    page.locator("[data-move=down]").first.click()
    page.locator("button[type=submit]", has_text="保存顺序").click()
    page.wait_for_url(re.compile(r"/departments/104$"))
    page.goto(f"{live_server.url}/departments/104/reorder")
    after = [codes.nth(i).get_attribute("value") for i in range(codes.count())]
    assert after == [before[1], before[0], *before[2:]]

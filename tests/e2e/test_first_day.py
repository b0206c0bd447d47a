"""A department clerk's first hour in Chromium (issue 16): the seeded set is certified, so the pages
must say what can be done and offer it; a new version stays in the chosen year; a copied indicator
does not corrupt the typical bundles; a too-long name is said at the field."""
from __future__ import annotations

import re

import pytest

BUNDLE = "国家基本公共卫生服务项目"


def accept_dialogs(page):
    page.on("dialog", lambda dialog: dialog.accept())


@pytest.mark.e2e
def test_certified_department_finds_the_way_to_change_and_copy(page, live_server, login, screenshot):
    url = live_server.url
    accept_dialogs(page)
    login(page, "jiaoyu")  # 县教育局: its seeded set is certified

    # Its own indicator: no 修改, but the reason and the action, right there.
    page.goto(f"{url}/indicators/JY-001")
    assert page.locator("[data-edit]").count() == 0
    notice = page.locator("[data-frozen-notice]")
    assert "本部门指标集已审定：开始新版本后可修改" in notice.inner_text()
    screenshot(page, "first-day-frozen-notice")
    # The edit page is not offered even by its address: back to the indicator, with the reason.
    page.goto(f"{url}/indicators/JY-001/edit")
    page.wait_for_url(f"{url}/indicators/JY-001")
    assert "已审定，不能直接修改" in page.inner_text(".flashes")

    # The set page: no 未报送/未确认/未分派专家 beside 专家已审定, the same offer.
    page.goto(f"{url}/departments/101")
    page.click("text=审定流程与版本")
    facts = page.inner_text(".wf-facts")
    for stale in ("未报送", "未确认", "未分派专家"):
        assert stale not in facts, stale
    assert page.locator("[data-frozen-notice] button[data-action=start_next]").count() == 1

    # Another department's indicator: the way to 复制到我的指标集 is a new version, offered here.
    page.goto(f"{url}/indicators/WJ-006")
    assert page.locator("[data-copy]").count() == 0
    assert "开始新版本后可把其他部门的指标复制到本部门" in page.inner_text("[data-frozen-notice]")
    years = page.locator("[data-start-year] option").evaluate_all("options => options.map(o => o.value)")
    chosen = page.locator("[data-start-year]").input_value()
    assert chosen in years and len(years) >= 2
    page.click("[data-frozen-notice] button[data-action=start_next]")
    page.wait_for_selector("text=已开始")
    heading = page.inner_text("h1")
    assert f"{chosen} 年" in heading and "第 2 版" in heading

    # Now the copy is offered; the typical bundles stay as they were.
    page.goto(f"{url}/indicators/WJ-006")
    assert page.locator("[data-frozen-notice]").count() == 0
    page.click("[data-copy]")
    page.wait_for_selector(".flash-success")
    copied = re.search(r"新编码 (JY-\d+)", page.inner_text(".flash-success")).group(1)

    page.goto(f"{url}/goals/new")
    page.fill("#name", "2025年学生健康体检项目")
    page.fill("#year", "2025")
    page.fill("#amount", "20")
    page.click("button:has-text('建立并开始编制')")
    page.wait_for_url("**/goals/*/edit")
    labels = page.locator("#bundle-select option").all_inner_texts()
    health = [label for label in labels if label.startswith(BUNDLE)]
    assert sorted(health) == sorted([f"{BUNDLE}（13 项 · 县卫生健康局）", f"{BUNDLE}（1 项 · 县教育局）"]), health
    page.select_option("#bundle-select", f"102|{BUNDLE}")
    page.click("#bundle button:has-text('一键加入整组')")
    page.wait_for_selector(".flash-success")
    codes = page.locator("tr[data-row] input[name=row_code]").evaluate_all("inputs => inputs.map(i => i.value)")
    screenshot(page, "first-day-bundles")
    assert codes.count("WJ-006") == 1 and copied not in codes and len(codes) == 13

    # A name over 200 characters is said at the field (the browser no longer cuts it silently).
    page.goto(f"{url}/departments/101/indicators/new")
    page.fill("#name", "长" * 230)
    counter = page.locator("#name-count")
    assert "超过上限 200 字（多 30 字）" in counter.inner_text()
    assert len(page.input_value("#name")) == 230
    screenshot(page, "first-day-name-limit")
    page.click("form.card button[type=submit]")
    assert "不超过 200 字" in page.inner_text("#name-error")

"""目标申报 end to end in Chromium: paste a project description, take recommended library
indicators, fix what the live checker finds, submit, review (专家 + 财政), approve, export the form."""
from __future__ import annotations

import pytest
from openpyxl import load_workbook

PROJECT_NAME = "2025年基本公共卫生服务项目"
DESCRIPTION = (
    "根据国家基本公共卫生服务规范，为辖区居民免费提供预防接种、0—6岁儿童健康管理、孕产妇健康管理、"
    "65岁及以上老年人健康管理、高血压和2型糖尿病患者健康管理、严重精神障碍患者管理、肺结核患者健康管理、"
    "传染病及突发公共卫生事件报告和处理、健康教育等服务，提高居民健康素养。"
)
BUNDLE = "国家基本公共卫生服务项目"


def sign_out(page) -> None:
    page.click(".topbar-user button[type=submit]")
    page.wait_for_url("**/login**")


def finding(page, rule: str):
    return page.locator(f"#findings [data-rule='{rule}']")


@pytest.mark.e2e
def test_draft_fix_submit_review_approve_export(page, live_server, login, screenshot, tmp_path, new_page):
    login(page, "weijian")
    page.click(".mainnav a:has-text('目标申报')")
    page.click("text=新建项目绩效目标")
    # The form's fields are real, styled fields; one asterisk per required label.
    for field in ("#name", "#amount", "#fiscal_amount", "#period", "#contact"):
        assert page.locator(field).bounding_box()["width"] >= 250, field
    assert "* *" not in page.inner_text("form.card") and "**" not in page.inner_text("form.card")
    period = page.locator("#period")
    assert period.evaluate("e => e.scrollWidth <= e.clientWidth")  # the placeholder is not cut
    page.fill("#name", PROJECT_NAME)
    page.fill("#year", "2025")
    page.fill("#amount", "1200")
    page.fill("#fiscal_amount", "1000")
    page.select_option("#kind", "延续")
    page.select_option("#category", "公共服务类")
    page.fill("#period", "2025年1月—12月")
    page.fill("#description", DESCRIPTION)
    page.click("button:has-text('建立并开始编制')")
    page.wait_for_url("**/goals/*/edit")

    # Recommendations, grouped by level1/level2, come from the pasted description.
    recommended = page.locator("#recommend input[name=pick]")
    codes = recommended.evaluate_all("boxes => boxes.map(b => b.value)")
    wanted = [code for code in codes if code.startswith("WJ-0")]
    assert len(wanted) >= 5, codes
    assert page.locator("#recommend legend", has_text="产出指标").count() == 1
    screenshot(page, "goals-recommendations")
    # The recommendation panel shows more than two items at a time (not squeezed into a short box).
    page.locator("#recommend").scroll_into_view_if_needed()
    shown = page.locator("#recommend .pick").evaluate_all(
        "items => { const aside = document.querySelector('.goal-aside').getBoundingClientRect(); "
        "return items.filter(i => { const r = i.getBoundingClientRect(); return r.height > 0 && r.top >= 0 "
        "&& r.bottom <= Math.min(window.innerHeight, aside.bottom); }).length; }")
    assert shown > 2, shown
    page.evaluate("window.scrollTo(0, 0)")
    for code in wanted:
        page.check(f"#recommend input[value='{code}']")
    page.click("#recommend button:has-text('加入选中指标')")
    page.wait_for_selector("tr[data-row]")
    assert page.locator("tr[data-row]").count() == len(wanted)

    # One click takes the rest of the typical bundle for this kind of project.
    page.select_option("#bundle-select", f"102|{BUNDLE}")  # 县卫健局's bundle of that project type
    page.click("#bundle button:has-text('一键加入整组')")
    page.wait_for_selector(".flash-success")
    assert page.locator("tr[data-row]").count() == 13
    # At 1366 px the indicator table fits its card: dropdowns, 性质 and 建议入库 are all in view,
    # also for a row of the department's own (the widest kind).
    page.click("button[value=custom]")
    page.wait_for_selector("tr.row-custom")
    card = page.locator("#rows")
    assert card.evaluate("card => card.scrollWidth <= card.clientWidth + 1")
    right_edge = card.bounding_box()["x"] + card.bounding_box()["width"]
    custom = page.locator("tr.row-custom")
    for control in custom.locator("select, input:not([type=hidden]), button").all():
        box = control.bounding_box()
        assert box["x"] + box["width"] <= right_edge + 1
    nature = custom.locator("select[name=row_nature]")
    assert nature.bounding_box()["width"] >= 50 and nature.evaluate("s => s.scrollWidth <= s.clientWidth + 1")
    assert custom.locator("select[name=row_level1]").evaluate("s => s.scrollWidth <= s.clientWidth + 1")
    custom.locator("button[value^=delete]").click()
    page.wait_for_selector(".flash-success")

    # The checker's findings, live while typing: a vague objective, then a unit that does not fit.
    assert finding(page, "annual_objective").count() == 1
    page.fill("#annual_objective", "进一步提高居民健康水平")
    finding(page, "vague_objective").wait_for()
    assert finding(page, "annual_objective").count() == 0
    page.fill("#annual_objective", "2025 年为全县居民提供 12 类基本公共卫生服务，适龄儿童免疫规划疫苗接种率不低于 90%。")
    page.fill("#long_term_objective", "2025—2027 年基本公共卫生服务覆盖全县居民，居民健康素养水平达到 28%。")
    first_unit = page.locator("tr[data-row]").first.locator("input[name=row_unit]")
    first_unit.fill("人")
    finding(page, "unit_category").wait_for()
    assert "row-error" in (page.locator("tr[data-row]").first.get_attribute("class") or "")
    first_unit.fill("%")
    page.locator("#findings .findings-summary", has_text="全部通过").wait_for()
    screenshot(page, "goals-drafting")

    page.click("button[data-submit-goal]")
    page.wait_for_url("**/goals/*")
    assert page.locator("[data-goal-status]").inner_text() == "已提交评审"
    goal_url = page.url.split("#")[0]

    # The submitted goal reaches the reviewers' 待办 (it reached nobody's before).
    expert = new_page()
    login(expert, "zhuanjia")
    expert.goto(live_server.url + "/workflow/inbox")
    expert.click(f"li[data-kind=goal_to_review] a:has-text('{PROJECT_NAME}')")
    assert expert.url == goal_url
    expert.check("#review input[value='良']")
    expert.fill("#summary", "指标完整，目标明确。")
    expert.click("#review button[type=submit]")
    expert.wait_for_selector(".flash-success")

    sign_out(page)
    login(page, "caizheng")
    page.goto(live_server.url + "/workflow/inbox")
    page.click(f"li[data-kind=goal_to_review] a:has-text('{PROJECT_NAME}')")
    assert page.url == goal_url
    page.check("#review input[value='优']")
    page.click("#review button[type=submit]")
    page.wait_for_selector(".flash-success")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#decide button:has-text('审定')")
    page.wait_for_selector(".flash-success")
    assert page.locator("[data-goal-status]").inner_text() == "已审定（冻结）"
    screenshot(page, "goals-approved")

    with page.expect_download() as download_info:
        page.click("[data-export]")
    path = tmp_path / "form.xlsx"
    download_info.value.save_as(path)
    sheet = load_workbook(path).active
    cells = {cell.value for row in sheet.iter_rows() for cell in row if cell.value is not None}
    assert sheet["A1"].value == "项目支出绩效目标申报表" and sheet["A2"].value == "（2025年度）"
    assert PROJECT_NAME in cells and "县卫生健康局（102）" in cells
    assert {"适龄儿童国家免疫规划疫苗接种率", "≥90", "居民对基本公共卫生服务满意度"} <= cells
    assert any(isinstance(value, str) and value.startswith("审核结论：良。指标完整，目标明确。") for value in cells)

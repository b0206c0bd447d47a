"""绩效自评 end to end in Chromium: a department uploads its 自评表 and sees score and grade → finance
draws the spot-check sample and re-checks it → a new goal for the same project shows last year's actual."""
from __future__ import annotations

import pytest

from tests.kb.selfeval.builders import EXAMPLE_ROWS, filled_bytes

PROJECT_2023 = "2023年学生资助项目"


def sign_out(page) -> None:
    page.click(".topbar-user button[type=submit]")
    page.wait_for_url("**/login**")


@pytest.mark.e2e
def test_department_completes_finance_spot_checks_goal_shows_last_actual(page, live_server, login, screenshot, tmp_path):
    rows = [dict(row) for row in EXAMPLE_ROWS]
    rows[4].update(code="JY-003", name="应享受学生覆盖率", target="≥90%", actual="95%")
    table = tmp_path / "自评表.xlsx"
    table.write_bytes(filled_bytes(project=PROJECT_2023, department="县教育局", year=2023, rows=rows))

    # The department uploads its table and sees the score and the grade.
    login(page, "jiaoyu")
    page.click(".mainnav a:has-text('绩效自评')")
    page.set_input_files("#selfeval-files", str(table))
    page.click("button:has-text('上传并评分')")
    page.wait_for_url("**/selfeval/*")
    assert page.inner_text("[data-total]") == "91.36"
    assert page.locator(".page-head [data-grade]").inner_text() == "优"
    assert page.locator("#rows tbody tr").count() == len(EXAMPLE_ROWS)
    screenshot(page, "selfeval-detail")
    sign_out(page)

    # Finance draws the sample (every table: 100 %, seed recorded) and re-checks the department's table.
    login(page, "caizheng")
    page.click(".mainnav a:has-text('绩效自评')")
    assert page.locator("#evaluations", has_text=PROJECT_2023).count() == 1
    page.click("a:has-text('抽查复核')")
    page.fill("input[name=percentage]", "100")
    page.fill("input[name=seed]", "2024")
    page.click("#draw button:has-text('抽取')")
    page.wait_for_selector(".flash-success")
    assert "随机种子 2024" in page.inner_text(".flash-success")
    page.click("#checks a:has-text('复核')")
    page.fill("#rows tbody tr:first-child input", "10")
    page.locator("select[name=problem_category]").first.select_option("佐证不足")
    page.locator("input[name=problem_text]").first.fill("缺少培训签到表")
    page.click("button:has-text('保存复核结果')")
    page.wait_for_selector(".flash-success")
    assert "复核得分 89.36" in page.inner_text(".flash-success")
    page.goto(live_server.url + "/selfeval/statistics?year=2023")
    assert "县教育局" in page.inner_text("#statistics")
    screenshot(page, "selfeval-statistics")
    sign_out(page)

    # Next year's goal for the same project shows last year's actual beside the target.
    login(page, "jiaoyu")
    page.goto(live_server.url + "/goals/new?indicator=JY-003")
    page.fill("#name", "2024年学生资助项目")
    page.fill("#year", "2024")
    page.fill("#amount", "50")
    page.fill("#description", "为家庭经济困难学生发放助学金。")
    page.click("button:has-text('建立并开始编制')")
    page.wait_for_url("**/goals/*/edit")
    assert "上年实际（2023 年自评）：95%" in page.inner_text("tr[data-row] [data-last-actual]")
    screenshot(page, "goals-last-actual")

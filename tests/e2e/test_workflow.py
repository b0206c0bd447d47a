"""The whole 审定 journey in Chromium: a department drafts and submits → finance confirms and assigns
an expert → the expert comments and certifies → the department starts next year's version and
compares it with the published one; every step is in the audit log."""
from __future__ import annotations

import datetime as dt

import pytest

from kb.services.audit import Actor
from kb.services.users import add_user
from tests.e2e.conftest import PASSWORD

DEPARTMENT = "209"  # 善福镇人民政府: no set in the seed, used by no other browser test


@pytest.fixture
def officer(live_server):
    """A department officer of 善福镇 (created once for this test)."""
    with live_server.app.extensions["kb"].sessions() as session:
        add_user(session, Actor.system("e2e"), "shanfu", PASSWORD, "department", DEPARTMENT)
        session.commit()
    return "shanfu"


def accept_dialogs(page):
    page.on("dialog", lambda dialog: dialog.accept())


@pytest.mark.e2e
def test_draft_submit_confirm_certify_and_diff(live_server, login, new_page, officer, screenshot):
    url = live_server.url
    # 1. The department starts its first set, adds an indicator and submits.
    department = new_page()
    accept_dialogs(department)
    login(department, officer)
    department.goto(f"{url}/workflow/departments/{DEPARTMENT}/versions")
    department.click("button[data-action=start]")
    department.wait_for_selector("text=已开始")
    assert "部门梳理中" in department.inner_text(".page-head")
    department.goto(f"{url}/departments/{DEPARTMENT}/indicators/new")
    department.fill("#code", "SF-001")
    department.fill("#name", "农村人居环境整治村庄覆盖率")
    department.select_option("#level1", "产出指标")
    department.select_option("#level2", "数量指标")
    department.select_option("#nature", "定量")
    department.select_option("#operator", "≥")
    department.fill("#target", "90")
    department.fill("#unit", "%")
    department.fill("#definition", "完成整治的行政村占全部行政村的比例。")
    department.fill("#formula", "完成整治村数 ÷ 行政村总数 × 100%")
    department.fill("input[name=basis_title]", "农村人居环境整治提升五年行动方案")
    department.click("form.card button[type=submit]")
    department.wait_for_url(f"{url}/indicators/SF-001")
    department.goto(f"{url}/workflow/departments/{DEPARTMENT}/versions")
    department.click("text=第 1 版")
    department.click("button[data-action=submit]")
    department.wait_for_selector("text=已报送财政。")
    assert "已报财政" in department.inner_text(".page-head")
    # Nothing to press now: the 操作 card says what happens next instead of staying empty.
    assert "等待财政确认" in department.inner_text("[data-next-step]")

    # 2. Finance sees it waiting, assigns the expert and confirms.
    finance = new_page()
    accept_dialogs(finance)
    login(finance, "caizheng")
    finance.goto(f"{url}/workflow/inbox")
    finance.click("li[data-kind=to_confirm] a:has-text('善福镇')")
    finance.check("label.wf-check:has-text('zhuanjia') input")
    finance.fill("#due_on", (dt.date.today() + dt.timedelta(days=5)).isoformat())
    finance.click("button[data-action=assign]")
    finance.wait_for_selector("text=已分派评审专家")
    finance.click("button[data-action=confirm]")
    finance.wait_for_selector("text=已确认。")
    assert "双方已确认" in finance.inner_text(".page-head")

    # 3. The expert comments on the indicator, then certifies.
    expert = new_page()
    accept_dialogs(expert)
    login(expert, "zhuanjia")
    expert.goto(f"{url}/workflow/inbox")
    expert.click("li[data-kind=to_review] a:has-text('善福镇')")
    row = expert.locator("#indicator-SF-001")
    row.locator("select[name=kind]").select_option("revise")
    row.locator("input[name=body]").fill("建议补充上年实际完成值作为依据")
    row.locator("button[type=submit]").click()
    expert.wait_for_selector("text=意见已提交。")
    # Certifying over one's own open 建议修改 needs a decision: wait for the answer, or give a reason.
    override = expert.locator("[data-certify-override]")
    assert "还有 1 条意见部门尚未答复" in override.inner_text()
    override.scroll_into_view_if_needed()
    screenshot(expert, "workflow-certify-open-comment")

    # 4. The department answers the comment; then a plain 同意审定 is offered again.
    department.reload()
    department.fill("#indicator-SF-001 input[name=answer]", "已补充 2024 年实际完成值 86%")
    department.click("#indicator-SF-001 .wf-answer-form button")
    department.wait_for_selector("text=答复已保存。")
    expert.reload()
    assert expert.locator("[data-certify-override]").count() == 0
    expert.click("button[data-action=certify]")
    expert.wait_for_selector("text=指标集已审定发布。")
    assert "专家已审定" in expert.inner_text(".page-head")
    timeline = expert.inner_text(".wf-timeline")
    for step in ("报送财政", "分派专家", "建议修改", "审定发布"):
        assert step in timeline, step
    screenshot(expert, "workflow-set")

    # 5. The department starts a new version within the same year, changes the target, compares.
    department.reload()
    assert department.locator("input[name=answer]").count() == 0  # a frozen set asks for no answers
    assert "本部门指标集已审定：开始新版本后可修改" in department.inner_text("[data-frozen-notice]")
    year = department.locator("[data-start-year]").input_value()
    department.click("button[data-action=start_next]")
    department.wait_for_selector("text=已开始")
    assert "第 2 版" in department.inner_text("h1") and f"{year} 年" in department.inner_text("h1")
    department.goto(f"{url}/indicators/SF-001/edit")
    department.fill("#target", "95")
    department.click("form.card button[type=submit]")
    department.wait_for_url(f"{url}/indicators/SF-001")
    department.goto(f"{url}/workflow/departments/{DEPARTMENT}/versions")
    department.click("button[data-action=diff]")
    assert department.inner_text("[data-count=changed]") == "1"
    cells = department.locator("#changed tr[data-field=target] td").all_inner_texts()
    assert cells == ["指标值", "90", "95"]
    screenshot(department, "workflow-diff")

    # 6. The board shows the department; the admin finds every step in the audit log.
    finance.goto(f"{url}/workflow/board")
    assert "部门梳理中" in finance.inner_text(f"tr[data-department='{DEPARTMENT}']")
    assert finance.locator("svg.wf-chart rect.seg").count() >= 2
    screenshot(finance, "workflow-board")
    admin = new_page()
    login(admin, "guanli")
    admin.goto(f"{url}/audit/?entity_type=indicator_set&key={DEPARTMENT}")
    actions = admin.locator("tr[data-action]").evaluate_all("rows => rows.map(r => r.dataset.action)")
    for action in ("start_set", "submit", "assign_experts", "confirm", "comment", "expert_certify", "certify",
                   "answer", "start_next"):
        assert action in actions, action
    # The auditor reads an entry in Chinese: the changed target marked, no raw JSON keys up front.
    screenshot(admin, "audit-list")
    admin.goto(f"{url}/audit/?entity_type=indicator&key=SF-001&action=update")
    admin.click("tr[data-action=update] a")
    admin.wait_for_selector("tr.is-changed")  # the click navigates; read the detail page, not the list
    changed = admin.locator("tr.is-changed").evaluate_all("rows => rows.map(r => r.dataset.field)")
    assert changed == ["target"], changed
    assert admin.inner_text("tr[data-field=target] th").startswith("指标值")
    admin.locator("tr.is-changed").scroll_into_view_if_needed()
    screenshot(admin, "audit-detail")
    admin.goto(f"{url}/admin/users")
    assert "未填姓名" in admin.inner_text("table") and "--display-name" in admin.inner_text(".flash-info")
    screenshot(admin, "admin-users")

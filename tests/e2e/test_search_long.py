"""检索 in Chromium: a pasted project description of 1,000+ characters, and true totals with facets over
every match (issue 16 items 2 and 4)."""
from __future__ import annotations

import pytest

PARAGRAPH = (
    "为全面落实学生资助政策，对家庭经济困难学生发放国家助学金，对建档立卡、低保、特困供养等家庭经济困难学生"
    "免除学杂费并发放生活补助，确保资助资金按时足额发放到位，受助学生及家长满意度达到95%以上。"
)


@pytest.mark.e2e
def test_a_pasted_long_description_is_searched_not_refused(page, live_server, login, screenshot) -> None:
    login(page, "weijian")
    text = (PARAGRAPH * 12)[:1200]
    assert len(text) >= 1000
    page.fill("#top-q", text)
    with page.expect_navigation() as navigation:
        page.press("#top-q", "Enter")
    assert navigation.value.status == 200
    assert page.locator(".mainnav").count() == 1  # the page with its menu, not a bare error page
    assert int(page.inner_text("[data-total]")) > 0
    assert "较长" in page.inner_text("[data-long-query]")
    assert page.locator("[data-why]").first.inner_text().startswith("匹配原因")
    # Narrowing by a facet keeps working (the link carries the beginning of the text).
    page.click(".facets a >> nth=0")
    assert page.locator(".mainnav").count() == 1 and int(page.inner_text("[data-total]")) > 0
    screenshot(page, "search-long-description")


@pytest.mark.e2e
def test_totals_and_facets_count_every_match(page, live_server, login) -> None:
    login(page, "weijian")
    page.fill("#top-q", "%")
    page.press("#top-q", "Enter")
    page.wait_for_selector("[data-total]")
    total = int(page.inner_text("[data-total]"))
    assert total > 100  # 180 indicators measured in %, not the first 100
    unit = page.locator(".facets a:has-text('%')").first.inner_text()
    assert str(total) in unit

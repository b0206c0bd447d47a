"""检索 in Chromium with the sentence model on (as deployed): a question in everyday words lists the indicators that
answer it and each such hit says it matched by the meaning of the whole question (issue 12 item 3)."""
from __future__ import annotations

import pytest

QUESTION = "孩子在学校能不能吃饱"  # no indicator says 孩子 or 吃饱: they say 学生, 营养, 膳食


@pytest.mark.e2e
def test_an_everyday_question_finds_the_official_wording_and_says_why(page, live_server, login, screenshot) -> None:
    login(page, "weijian")
    page.fill("#top-q", QUESTION)
    page.press("#top-q", "Enter")
    page.wait_for_selector("[data-total]")
    first = page.locator(".hit").first
    assert first.locator("[data-hit]").get_attribute("data-hit").startswith("JY-")  # 教育局's meal indicators
    assert any(word in first.locator(".hit-title").inner_text() for word in ("营养", "膳食", "餐"))
    assert first.locator("[data-why]").inner_text().startswith(f"匹配原因：整句意思与“{QUESTION}”相近")
    screenshot(page, "search-meaning")

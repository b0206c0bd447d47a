"""The browser reaches the app, signs in and sees the search page."""
import pytest


@pytest.mark.e2e
def test_sign_in_shows_the_search_page(page, live_server, login):
    login(page, "caizheng")
    assert page.locator("h1").inner_text() == "找指标，从这里开始"
    assert page.locator(".mainnav a", has_text="部门").count() == 1

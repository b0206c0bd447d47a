"""Issue 14 item 12 (search part): at most SEARCH_RATE_PER_MINUTE searches per user and minute."""
from __future__ import annotations

import pytest

from tests.webapp.conftest import PASSWORD
from webapp import ratelimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ratelimit, "monotonic", clock)
    return clock


def test_the_default_is_sixty_searches_a_minute(app):
    assert app.config["SEARCH_RATE_PER_MINUTE"] == 60


def test_the_61st_search_in_a_minute_is_refused_in_chinese(world, client, make_user, login, clock):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    for _ in range(60):
        assert client.get("/?q=高血压").status_code == 200
        clock.now += 0.5
    refused = client.get("/?q=高血压")
    assert refused.status_code == 429 and "检索过于频繁" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get("/").status_code == 200  # the home page without a query is no search
    clock.now += 31  # the first searches leave the window
    assert client.get("/?q=高血压").status_code == 200


def test_the_limit_is_per_user_and_covers_the_api(world, client, make_user, clock):
    world.config["SEARCH_RATE_PER_MINUTE"] = 3
    make_user("finance", username="caizheng")
    make_user("expert", username="zhuanjia")
    tokens = {name: client.post("/api/v1/tokens", json={"username": name, "password": PASSWORD}).get_json()["token"]
              for name in ("caizheng", "zhuanjia")}

    def search(name: str, path: str = "/api/v1/search?q=高血压"):
        return client.get(path, headers={"Authorization": f"Bearer {tokens[name]}"})

    for _ in range(2):
        assert search("caizheng").status_code == 200
    assert search("caizheng", "/api/v1/recommend?text=高血压 慢病管理").status_code == 200
    refused = search("caizheng")
    assert refused.status_code == 429 and "检索过于频繁" in refused.get_json()["message"]
    assert search("zhuanjia").status_code == 200  # somebody else is not slowed down

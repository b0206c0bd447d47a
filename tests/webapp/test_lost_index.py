"""A lost index does not fail silently (issue 14 item 13): with the index directory removed, search
says “检索索引正在重建”, answers from the database meanwhile, and the index is rebuilt in the
background, one rebuild at a time."""
from __future__ import annotations

import shutil
import threading

import pytest

from kb import fallback_search


@pytest.fixture
def app_config(app_config, tmp_path):
    # The real engine: the memory engine of the other page tests cannot lose its files.
    return {**app_config, "SEARCH_BACKEND": "search.whoosh_backend.WhooshBackend",
            "SEARCH_INDEX_DIR": str(tmp_path / "index")}


@pytest.fixture
def signed_in(world, make_user, login, client):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    return client


def test_search_after_the_index_is_removed(world, signed_in, tmp_path, monkeypatch):
    # The background rebuild waits until the degraded answers are checked (no race with the test).
    checked, real_rebuild = threading.Event(), fallback_search.rebuild_index
    monkeypatch.setattr(fallback_search, "rebuild_index",
                        lambda session, backend: checked.wait(30) and real_rebuild(session, backend))
    assert "index_rebuilding" not in signed_in.get("/api/v1/search?q=高血压").get_json()
    world.extensions["kb"].search.close()
    shutil.rmtree(tmp_path / "index")
    page = signed_in.get("/?q=高血压")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "检索索引正在重建" in text and 'data-hit="WJ-006"' in text  # found in the database meanwhile
    api = signed_in.get("/api/v1/search?q=高血压").get_json()
    assert api["index_rebuilding"] is True
    assert any(hit["code"] == "WJ-006" for hit in api["hits"])
    checked.set()
    fallback_search.wait_for_rebuild(60)
    assert (tmp_path / "index").is_dir() and world.extensions["kb"].search.is_ready()
    after = signed_in.get("/api/v1/search?q=高血压").get_json()
    assert "index_rebuilding" not in after and any(hit["code"] == "WJ-006" for hit in after["hits"])


def test_one_rebuild_at_a_time(world, monkeypatch):
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow_rebuild(session, backend):
        calls.append(1)
        started.set()
        release.wait(10)
        return 0

    monkeypatch.setattr(fallback_search, "rebuild_index", slow_rebuild)
    state = world.extensions["kb"]
    with state.sessions() as session:
        assert fallback_search.start_rebuild(session, state.search) is True
        started.wait(10)
        assert fallback_search.start_rebuild(session, state.search) is False
        assert fallback_search.is_rebuilding()
    release.set()
    fallback_search.wait_for_rebuild(10)
    assert calls == [1] and not fallback_search.is_rebuilding()


def test_database_fallback_respects_visibility_and_filters(world):
    state = world.extensions["kb"]
    with state.sessions() as session:
        total, codes = fallback_search.search_database(session, "高血压", {}, (), 20, 0)
        assert "WJ-006" in codes and total == len(codes)
        assert "WJ-006" not in fallback_search.search_database(session, "高血压", {}, ("WJ-006",), 20, 0)[1]
        assert fallback_search.search_database(session, "高血压", {"department": "101"}, (), 20, 0) == (0, [])
        assert fallback_search.search_database(session, "100%_", {}, (), 20, 0)[0] == 0  # LIKE wildcards escaped

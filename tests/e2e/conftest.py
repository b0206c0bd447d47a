"""End-to-end fixtures: the real app served from a background thread, driven by headless Chromium.

``live_server`` is a server of each test's own: its data directory (SQLite database with the county
seed, the search index built with the real engine, and one user per role, password ``PASSWORD``:
``caizheng`` (finance), ``jiaoyu`` (department 101), ``weijian`` (department 102), ``xiangzhen``
(department 109, no certified set yet: it may edit), ``caiwu`` (a second finance user), ``zhuanjia``
(expert), ``guanli`` (admin)) is copied from one built once per run, so what a test changes no other
test sees.

Screenshots go to a temporary folder; ``KB_SAVE_SCREENSHOTS=1`` (``make screenshots``) copies them into
docs/screenshots/ at the end of the run, so a plain test run leaves the checkout clean.

    @pytest.mark.e2e
    def test_x(page, live_server, login):
        login(page, "jiaoyu")
        page.goto(live_server.url + "/departments/101")
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from kb.db import create_schema
from kb.indexing import rebuild_index
from kb.services.audit import Actor
from kb.services.library import load_library, parse_library
from kb.services.users import add_user
from tests.conftest import SEED_PATHS

PASSWORD = "Qingshan#2025"
USERS = (
    ("caizheng", "finance", None),
    ("jiaoyu", "department", "101"),
    ("weijian", "department", "102"),
    ("xiangzhen", "department", "109"),  # a county department whose set is still being drafted
    ("caiwu", "finance", None),  # a second finance officer (concurrent edits)
    ("zhuanjia", "expert", None),
    ("guanli", "admin", None),
)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SEARCH_BACKEND = "search.whoosh_backend.WhooshBackend"


@dataclass
class LiveServer:
    url: str
    app: object


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(data_dir: Path) -> dict:
    return {
        "KB_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'kb.sqlite3'}",
        "KB_SECRET_KEY": "e2e-secret",
        "SEARCH_BACKEND": SEARCH_BACKEND,
        "SEARCH_MEANING": True,  # as deployed (the other tests switch it off: tests/conftest.py)
    }


@pytest.fixture(scope="session")
def seeded_data_dir(tmp_path_factory) -> Path:
    """A data directory with the seed, the users and the index, built once; tests get copies."""
    from webapp import create_app

    data_dir = tmp_path_factory.mktemp("e2e-template")
    app = create_app(_config(data_dir))
    state = app.extensions["kb"]
    create_schema(state.engine)
    actor = Actor.system("e2e")
    with state.sessions() as session:
        load_library(session, actor, parse_library(session, SEED_PATHS))
        for username, role, department in USERS:
            add_user(session, actor, username, PASSWORD, role, department)
        session.commit()
        rebuild_index(session, state.search)
        session.commit()  # the rebuild's own writes: the outbox it emptied, the sentence vectors it encoded
    state.close()  # the last connection checkpoints the WAL: the files alone are the data
    return data_dir


@pytest.fixture
def live_server(seeded_data_dir: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """The app served on a free port from a copy of :func:`seeded_data_dir` (this test's own data)."""
    from webapp import create_app

    data_dir = tmp_path / "e2e-data"
    shutil.copytree(seeded_data_dir, data_dir)
    app = create_app(_config(data_dir))
    state = app.extensions["kb"]
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{port}", app)
    server.shutdown()
    thread.join(timeout=10)
    state.close()


def chromium_path() -> str:
    """``KB_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH (Debian and Ubuntu names)."""
    path = os.environ.get("KB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("找不到 Chromium：请安装 chromium（make test 会用 apt 安装），或设置 KB_CHROMIUM 为其路径。")
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def new_page(browser):
    """Another, independent browser (its own cookies): a second person at the same time."""
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def login(live_server):
    """``login(page, username)``: sign in through the login form and land on the search page."""

    def sign_in(page, username: str, password: str = PASSWORD) -> None:
        page.goto(f"{live_server.url}/login")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_selector(".topbar-user")

    return sign_in


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Iterator[Path]:
    """Where this run's screenshots go; copied into docs/screenshots/ at the end only on request."""
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    if os.environ.get("KB_SAVE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.glob("*.png")):
            shutil.copy2(path, DOCS_SCREENSHOTS / path.name)


@pytest.fixture
def screenshot(screenshot_dir: Path):
    """``screenshot(page, name)``: save a PNG of the window (the README's pictures, see ``make screenshots``)."""

    def take(page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take

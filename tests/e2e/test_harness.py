"""The browser-test harness itself (no browser needed): screenshots stay out of the source tree unless
asked for, and Chromium is found where the system put it."""
from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import DOCS_SCREENSHOTS, chromium_path

ROOT = Path(__file__).resolve().parents[2]


class FakePage:
    def screenshot(self, path: str, full_page: bool) -> None:
        Path(path).write_bytes(b"\x89PNG")


def test_screenshots_go_to_a_temporary_folder_not_the_checkout(screenshot) -> None:
    path = screenshot(FakePage(), "harness-check")
    assert path.is_file()
    assert ROOT not in path.resolve().parents
    assert not (DOCS_SCREENSHOTS / "harness-check.png").exists()


def test_chromium_is_taken_from_kb_chromium_first(monkeypatch, tmp_path: Path) -> None:
    browser = tmp_path / "my-chromium"
    browser.write_text("#!/bin/sh\n", encoding="utf-8")
    monkeypatch.setenv("KB_CHROMIUM", str(browser))
    assert chromium_path() == str(browser)


def test_chromium_is_found_on_the_path_under_either_name(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KB_CHROMIUM", raising=False)
    (tmp_path / "chromium-browser").write_text("#!/bin/sh\n", encoding="utf-8")
    (tmp_path / "chromium-browser").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert chromium_path() == str(tmp_path / "chromium-browser")

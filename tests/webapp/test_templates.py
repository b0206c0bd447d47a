"""Templates keep to the CSP (script-src 'self', style-src 'self') and never mark user data safe."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "webapp" / "templates").rglob("*.html"))
FORBIDDEN = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "inline style attribute": re.compile(r"\sstyle\s*=", re.I),
    "style element": re.compile(r"<style[\s>]", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "|safe filter": re.compile(r"\|\s*safe\b"),
    "CDN": re.compile(r"(src|href)=\"https?://", re.I),
}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(path.parents[1])))
def test_template_keeps_to_the_content_security_policy(template: Path):
    # A document rendered as a standalone file (a download, not served under our CSP) may carry its CSS.
    text = "\n".join(line for line in template.read_text(encoding="utf-8").splitlines()
                     if not ("{% if standalone %}" in line and "<style>" in line))
    found = [name for name, pattern in FORBIDDEN.items() if pattern.search(text)]
    assert found == []

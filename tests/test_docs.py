"""Users' documents are self-contained (issue 16): a clone has no ../shared, every link and picture
of the README and the user manual exists in the repository, and the manual covers every role."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "workflow.md", *sorted((ROOT / "docs" / "manual").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_manual_has_one_part_per_role():
    names = {path.name for path in (ROOT / "docs" / "manual").glob("*.md")}
    assert {"README.md", "department.md", "finance.md", "expert.md", "admin.md"} <= names


def test_links_and_pictures_resolve_inside_the_repository():
    for document in DOCS:
        text = document.read_text(encoding="utf-8")
        assert "../shared" not in text, document
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = (document.parent / target).resolve()
            assert path.is_relative_to(ROOT) and path.exists(), f"{document.name}: {target}"


def test_workflow_document_is_in_chinese():
    text = (ROOT / "docs" / "workflow.md").read_text(encoding="utf-8")
    prose = [line for line in text.splitlines() if line and not line.startswith(("|", "`", "#"))]
    chinese = sum(1 for line in prose if re.search(r"[\u4e00-\u9fff]", line))
    assert chinese == len(prose), [line for line in prose if not re.search(r"[\u4e00-\u9fff]", line)]

"""``RankedBackend.set_synonyms``: every engine swaps its synonym groups while serving, without a rebuild."""
from __future__ import annotations

from pathlib import Path

import pytest

from search.base import BaseBackend
from tests.search.test_contract import ENGINES, FIELDS, LIBRARY, OPTIONS, keys


@pytest.fixture(params=sorted(ENGINES))
def library(request, tmp_path: Path):
    engine = ENGINES[request.param](tmp_path, FIELDS, OPTIONS)
    assert engine.rebuild(LIBRARY) == len(LIBRARY)
    yield engine
    engine.close()


def test_new_groups_apply_to_the_next_search_and_old_ones_stop(library: BaseBackend) -> None:
    assert "A-007" not in keys(library, "开支进度")
    library.set_synonyms([["开支", "支出"], ["进度", "执行率"]])
    assert "A-007" in keys(library, "开支进度")  # 预算执行率: 实际支出占预算的比例
    library.set_synonyms(OPTIONS["synonyms"])  # those groups retired again
    assert "A-007" not in keys(library, "开支进度")

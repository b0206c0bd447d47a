"""``RankedBackend.set_synonyms``: every engine swaps its synonym groups while serving, without a rebuild."""
from __future__ import annotations

from pathlib import Path

import pytest

from search.base import BaseBackend, SearchQuery
from search.planner import THESAURUS
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


def test_a_rejected_guess_stops_expanding_and_allowing_it_brings_it_back(library: BaseBackend) -> None:
    def thesaurus_terms(text: str) -> set[tuple[str, str]]:
        return {(r.source, r.term) for hit in library.search(SearchQuery(text=text)).hits for r in hit.reasons
                if r.kind == THESAURUS}

    assert ("长者", "老年人") in thesaurus_terms("长者健康")  # the general thesaurus relates them
    assert "A-006" in keys(library, "长者")
    library.set_synonyms(OPTIONS["synonyms"], rejected=[("长者", "老年人")])
    assert ("长者", "老年人") not in thesaurus_terms("长者健康")
    assert "A-006" not in keys(library, "长者")  # nothing else relates 长者 to 老年人 健康管理率
    library.set_synonyms(OPTIONS["synonyms"])
    assert ("长者", "老年人") in thesaurus_terms("长者健康")

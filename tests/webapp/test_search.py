"""检索 page and the search box: results, highlights, facets, did-you-mean, paging, empty states."""
from __future__ import annotations

import re

import pytest


@pytest.fixture
def signed_in(world, client, make_user, login):
    make_user("department", "101", username="jiaoyu")
    login(client, "jiaoyu")
    return client


def test_home_without_query_explains_and_offers_examples(signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    assert "找指标，从这里开始" in page
    assert "高血压 管理" in page  # an example query
    assert 'name="q"' in page


def test_search_finds_highlights_and_counts_facets(signed_in):
    response = signed_in.get("/?q=高血压 管理")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-hit="WJ-006"' in page
    assert "<mark>高血压</mark>" in page
    assert re.search(r'data-facet="department".*?县卫生健康局.*?class="count">\d+<', page, re.S)
    assert 'data-facet="level1"' in page


def test_facet_link_filters_and_the_url_can_be_shared(signed_in):
    page = signed_in.get("/?q=率").get_data(as_text=True)
    total = int(re.search(r"data-total>(\d+)<", page).group(1))
    filtered = signed_in.get("/?q=率&department=102").get_data(as_text=True)
    narrowed = int(re.search(r"data-total>(\d+)<", filtered).group(1))
    assert 0 < narrowed < total
    assert "部门：县卫生健康局" in filtered  # the chip that removes the filter
    assert 'href="/?q=%E7%8E%87"' in filtered or "清除全部筛选" in filtered


def test_pagination_keeps_query_and_filters(signed_in):
    page = signed_in.get("/?q=率&level1=产出指标").get_data(as_text=True)
    assert 'rel="next"' in page
    second = signed_in.get("/?q=率&level1=产出指标&page=2").get_data(as_text=True)
    assert "第 2/" in second
    assert 'rel="prev"' in second


def test_no_results_gives_help_and_did_you_mean(signed_in):
    # No retired indicator matches; the closest indicator name is offered.
    page = signed_in.get("/?q=高血压患者规范管理&state=retired").get_data(as_text=True)
    assert "没有找到" in page
    assert "换一个说法或更短的词" in page
    assert "您是不是要找" in page


def test_user_text_is_escaped_in_results(signed_in):
    page = signed_in.get("/?q=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_highlight_filter_keeps_only_marks():
    from webapp.templating import highlight

    assert str(highlight('<b class="match term0">高血压</b><img src=x onerror=alert(1)>')) == (
        "<mark>高血压</mark>&lt;img src=x onerror=alert(1)&gt;"
    )


def test_suggestions_come_from_the_api(signed_in):
    response = signed_in.get("/api/v1/suggest?q=高血压")
    assert response.status_code == 200
    assert any(item["code"] == "WJ-006" for item in response.get_json())
    assert signed_in.get("/api/v1/suggest?q=").get_json() == []


def test_one_search_reads_departments_and_indicators_once(signed_in, app):
    """The page shows what the hits carry: one department and one indicator query per search."""
    from sqlalchemy import event

    engine = app.extensions["kb"].engine

    def selects(url: str) -> tuple[list[str], str]:
        statements = []

        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement.lstrip())

        event.listen(engine, "before_cursor_execute", record)
        try:
            page = signed_in.get(url).get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return statements, page

    baseline, _ = selects("/")  # the layout's own reads (the signed-in user, their department…)
    found, page = selects("/?q=高血压 管理")
    assert 'data-hit="WJ-006"' in page and "指标值：" in page

    def count(statements: list[str], table: str) -> int:
        return sum(1 for s in statements if s.startswith(f"SELECT {table}."))

    assert count(found, "departments") - count(baseline, "departments") <= 1, "\n".join(s[:200] for s in found)
    # Two: the hits, and the codes of other departments' drafts the reader may not see (kb/visibility.py).
    assert count(found, "indicators") - count(baseline, "indicators") <= 2, "\n".join(s[:200] for s in found)


def test_api_search_takes_every_filter_of_the_page(signed_in):
    from kb.searching import FILTER_KEYS

    common = signed_in.get("/api/v1/search?kind=共性&limit=100").get_json()
    assert common["total"] > 0 and all(hit["department"] is None for hit in common["hits"])
    everything = signed_in.get("/api/v1/search?limit=100&state=active").get_json()
    retired = signed_in.get("/api/v1/search?state=retired&limit=100").get_json()
    assert retired["total"] < everything["total"]
    assert set(common) == {"total", "hits", "facets", "suggestion"}  # CONTRACT §5, unchanged
    for key in FILTER_KEYS:  # every filter of the page is a documented parameter of the API
        assert signed_in.get(f"/api/v1/search?{key}=x").status_code == 200


LINK_CASES = [  # (the page's parameters, the link's changes, the parameters url_for was given)
    ({"q": "高血压 管理"}, {"department": "102"}, {"q": "高血压 管理", "department": "102"}),
    ({"q": "率", "level1": "产出指标", "page": "3", "ql": "ref.x-y_z"}, {"page": 4, "ql": "ref.x-y_z"},
     {"q": "率", "level1": "产出指标", "page": 4, "ql": "ref.x-y_z"}),
    ({"q": "率", "level1": "产出指标", "page": "3", "ql": "ref"}, {"level1": None}, {"q": "率"}),
    ({"q": "a&b=c #d %e +f/g:h?i@j!k$l'm(n)o*p,q;r~s"}, {"unit": "%"},
     {"q": "a&b=c #d %e +f/g:h?i@j!k$l'm(n)o*p,q;r~s", "unit": "%"}),
    ({"q": "长" * 300, "state": "retired"}, {"q": "满意度"}, {"q": "满意度", "state": "retired"}),
    ({"q": "长" * 300}, {"kind": "共性"}, {"q": "长" * 200, "kind": "共性"}),
    ({"department": "102"}, {"department": None}, {}),
]


@pytest.mark.parametrize("script_root", ["", "/kb"])
@pytest.mark.parametrize(("params", "changes", "expected"), LINK_CASES)
def test_page_links_are_the_urls_url_for_builds(app, script_root, params, changes, expected):
    """The links encode their query themselves (issue 15); they stay what url_for made of the same parameters."""
    from flask import url_for

    from webapp.views.search import search_links

    with app.test_request_context("/", base_url=f"http://localhost{script_root}"):
        link = search_links(params)(**changes)
        assert link == url_for("search.index", **expected) and link.startswith(f"{script_root}/")

"""检索分析 → 处理一个检索词: the engine's own guesses (word vectors, thesaurus, shared characters) shown with
the hits they brought, confirmed by finance as a synonym group in one click; search follows at once."""
from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest
from sqlalchemy import select

from kb.models import AuditEntry, Department, SynonymGroup
from kb.searching import guessed_terms


BACK = "/search-insights/query?q=" + quote("修房子") + "&days=30"


@pytest.fixture
def finance(client, make_user, login, world):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    return client


def _guesses(page: str) -> list[str]:
    table = page.split('id="guessed-terms"')[1].split("</table>")[0] if 'id="guessed-terms"' in page else ""
    return re.findall(r'data-guess="([^"]+)"', table)


def _hidden(form: str) -> dict[str, str]:
    """A form's hidden fields as the browser posts them."""
    return {name: html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', form)}


def _row(page: str, guess: str) -> str:
    return re.search(rf'<tr data-guess="{guess}">.*?</tr>', page, re.S).group(0)


def test_a_guess_confirmed_by_finance_becomes_a_synonym_group_that_search_uses(app, finance):
    page = finance.get("/search-insights/query", query_string={"q": "修房子"}).get_data(as_text=True)
    assert "房子→住房" in _guesses(page)  # the general thesaurus relates 房子 to the library's 住房
    row = _row(page, "房子→住房").split("reject-form")[0]  # the first form: 确认为同义词
    fields = _hidden(row)
    assert fields["terms"] == "房子、住房" and fields["next"] == BACK
    action = re.search(r'<form method="post" action="([^"]+)"', row).group(1)
    response = finance.post(action, data=fields)
    assert response.status_code == 302 and response.headers["Location"].endswith(BACK)
    after = finance.get("/search-insights/query", query_string={"q": "修房子"}).get_data(as_text=True)
    assert "房子→住房" not in _guesses(after)  # now a synonym, no longer a guess
    assert "房子、住房" in after.split('id="acting-groups"')[1].split("</ul>")[0]
    hits = finance.get("/api/v1/search", query_string={"q": "修房子", "limit": 10}).get_json()["hits"]
    assert any({"term": "住房", "kind": "同义词", "source": "房子"} in hit["why"] for hit in hits)
    with app.extensions["kb"].sessions() as session:
        group = session.scalar(select(SynonymGroup).where(SynonymGroup.note == "检索分析：修房子"))
        assert group.terms == ["房子", "住房"]
        entry = session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "synonym_group",
                                                        AuditEntry.action == "create"))
        assert entry.actor == "caizheng" and entry.after["terms"] == ["房子", "住房"]


def test_a_word_already_in_a_group_points_to_that_group_instead_of_a_new_one(app, finance):
    page = finance.get("/search-insights/query", query_string={"q": "打针"}).get_data(as_text=True)
    row = _row(page, "打针→接种")  # word vectors relate 打针 to 接种, which sits in the group 接种、免疫
    with app.extensions["kb"].sessions() as session:
        group = next(g for g in session.scalars(select(SynonymGroup)) if "接种" in g.terms)
    assert f'href="/synonyms/{group.id}"' in row and 'action="/synonyms/"' not in row  # no new group offered
    acting = finance.get("/search-insights/query", query_string={"q": "看病报销"}).get_data(as_text=True)
    assert "看病、就医、就诊" in acting.split('id="acting-groups"')[1].split("</ul>")[0]


def test_a_query_without_hits_offers_the_free_form_prefilled(finance):
    page = finance.get("/search-insights/query", query_string={"q": "针头纱布"}).get_data(as_text=True)
    assert "没有结果" in page and 'id="guessed-terms"' not in page
    form = page.split('id="add-group"')[1].split("</form>")[0]
    assert 'value="针头纱布"' in form and 'name="next" value="/search-insights/query?q=' in form


def test_the_insights_link_each_query_to_its_page_which_says_who_asked(app, finance):
    import datetime as dt

    from kb.models.base import utcnow
    from kb.services.query_log import add_search

    with app.extensions["kb"].sessions() as session:
        ids = dict(session.execute(select(Department.code, Department.id)).all())
        for role, department, days_ago in (("department", "101", 1), ("department", "101", 2), ("finance", None, 3),
                                           ("department", "102", 45)):
            add_search(session, query="针头纱布", hits=0, role=role, department_id=ids.get(department), channel="page",
                       at=utcnow() - dt.timedelta(days=days_ago))
        session.commit()
    page = finance.get("/search-insights").get_data(as_text=True)
    zero = page.split('id="zero-hit-queries"')[1].split("</table>")[0]
    link = re.search(r'href="(/search-insights/query\?q=[^"]+)"[^>]*>处理<', zero).group(1).replace("&amp;", "&")
    asked = finance.get(link).get_data(as_text=True).split('id="askers"')[1].split("</p>")[0]
    assert "近 30 天检索 3 次" in asked and "县教育局 2 次" in asked and "财政 1 次" in asked
    assert "102" not in asked  # 45 days ago: outside the period
    longer = finance.get(link.replace("days=30", "days=90")).get_data(as_text=True)
    assert "近 90 天检索 4 次" in longer.split('id="askers"')[1].split("</p>")[0]


def test_only_the_library_keepers_open_it_and_the_redirect_stays_on_the_site(client, make_user, login, world, finance):
    bad = finance.post("/synonyms/", data={"terms": "打吊针、输液", "next": "https://evil.example/"})
    assert bad.status_code == 302 and not bad.headers["Location"].startswith("https://evil")
    make_user("department", "101", username="jiaoyu")
    login(client, "jiaoyu")
    assert client.get("/search-insights/query", query_string={"q": "打针"}).status_code == 403


def test_guesses_count_the_hits_they_appear_in_and_leave_typed_words_and_synonyms_out():
    why = [{"term": "接种", "kind": "词义相近", "source": "打针"}, {"term": "打针", "kind": "输入词", "source": "打针"},
           {"term": "就医", "kind": "同义词", "source": "看病"}]
    hits = [{"why": why}, {"why": why[:1]}, {"why": [{"term": "住房", "kind": "通用同义词库", "source": "房子"}]}]
    assert guessed_terms(hits) == [{"term": "接种", "kind": "词义相近", "source": "打针", "hits": 2},
                                   {"term": "住房", "kind": "通用同义词库", "source": "房子", "hits": 1}]


def test_a_wrong_guess_rejected_by_finance_stops_expanding_and_can_be_allowed_again(app, finance):
    page = finance.get("/search-insights/query", query_string={"q": "打针"}).get_data(as_text=True)
    row = _row(page, "打针→护理")  # word vectors relate 打针 to 护理: a wrong guess, it brings nursing indicators
    fields = _hidden(row.split("reject-form")[1])
    action = re.search(r'<form method="post" action="([^"]+)" class="inline-form reject-form"', row).group(1)
    response = finance.post(action, data={**fields, "reason": "打针说的是接种"})
    assert response.status_code == 302 and "/search-insights/query?q=" in response.headers["Location"]
    after = finance.get(response.headers["Location"]).get_data(as_text=True)
    assert "已排除“打针→护理”" in after and "打针→护理" not in _guesses(after)
    assert 'data-rejected="打针→护理"' in after.split('id="rejected-guesses"')[1].split("</table>")[0]
    hits = finance.get("/api/v1/search", query_string={"q": "打针", "limit": 20}).get_json()["hits"]
    assert not any(why["term"] == "护理" and why["source"] == "打针" for hit in hits for why in hit["why"])
    assert "打针说的是接种" in finance.get("/synonyms/").get_data(as_text=True)  # listed on the synonyms page too
    with app.extensions["kb"].sessions() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "rejected_guess"))
        assert (entry.actor, entry.after["source"], entry.after["term"]) == ("caizheng", "打针", "护理")

    allow = re.search(r'<tr data-rejected="打针→护理">.*?</tr>', after, re.S).group(0)
    fields = _hidden(allow)
    action = re.search(r'<form method="post" action="([^"]+)"', allow).group(1)
    assert finance.post(action, data=fields).status_code == 302
    again = finance.get("/search-insights/query", query_string={"q": "打针"}).get_data(as_text=True)
    assert "打针→护理" in _guesses(again)
    twice = finance.post(action, data=fields)  # the same form again: its version is stale
    assert twice.status_code == 302
    assert "已被他人修改" in finance.get("/synonyms/").get_data(as_text=True)

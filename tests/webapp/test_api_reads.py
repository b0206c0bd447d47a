"""A token-authenticated search does no database write and few lookups; revocation still bites at once;
the query cache follows edits (issue 15 item 2). Real Whoosh index, real SQLite or PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select, update

from kb.models import ApiToken, Department, User
from kb.schemas import SearchResultSchema
from kb.searching import search_indicators
from kb.services import accounts
from kb.services.audit import Actor
from tests.webapp.conftest import PASSWORD

WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def app_config(app_config):
    # The index version that invalidates the query cache is the Whoosh index's (the in-memory test engine has none).
    return {**app_config, "SEARCH_BACKEND": "search.whoosh_backend.WhooshBackend", "SEARCH_RATE_PER_MINUTE": 0}


@pytest.fixture
def token(world, client, make_user):
    make_user("finance", username="caizheng")
    response = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD})
    assert response.status_code == 201
    return response.get_json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class Statements:
    """Every SQL statement and commit of the app's engine while active."""

    def __init__(self, engine) -> None:
        self.engine, self.sql, self.commits = engine, [], 0

    def _statement(self, conn, cursor, statement, *args) -> None:
        if statement.strip().upper() != "BEGIN":  # SQLite's explicit transaction start (kb.db)
            self.sql.append(statement.lstrip().upper())

    def _commit(self, conn) -> None:
        self.commits += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)

    @property
    def writes(self) -> list[str]:
        return [s for s in self.sql if s.startswith(WRITES)]

    @property
    def writes_besides_the_query_log(self) -> list[str]:
        """The query log (kb/services/query_log.py) adds a row for each new search on a short connection of
        its own that gives up rather than wait for the write lock; nothing else may write."""
        return [s for s in self.writes if not s.startswith("INSERT INTO QUERY_LOG")]


def last_used(app, token: str):
    with app.extensions["kb"].sessions() as session:
        return session.scalar(select(ApiToken.last_used_at).where(ApiToken.token_hash == accounts._digest(token)))


def test_a_token_search_writes_nothing_and_reads_little(world, client, token):
    from webapp.query_logging import flush_queued

    client.get("/api/v1/search?q=满意度", headers=bearer(token))  # the first use may stamp last-used
    with Statements(world.extensions["kb"].engine) as seen:
        for query in ("高血压 管理", "满意度", "预算执行率", "高血压 管理"):  # next pages: not logged either
            assert client.get(f"/api/v1/search?q={query}&limit=10&offset=10", headers=bearer(token)).status_code == 200
    assert seen.writes == [] and seen.commits == 0
    flush_queued(world)
    with Statements(world.extensions["kb"].engine) as seen:
        assert client.get("/api/v1/search?q=预算执行率", headers=bearer(token)).status_code == 200
    # A new search is queued for the query log, written with others a few seconds later, not on its request.
    assert seen.writes == [] and seen.commits == 0
    with Statements(world.extensions["kb"].engine) as seen:
        assert flush_queued(world) == 1
    assert seen.writes_besides_the_query_log == [] and len(seen.writes) == 1
    # Per search: the token with its user (one statement) and the hits' indicators; the department
    # vocabulary once per index version, not once per request.
    assert len(seen.sql) <= 2 * 4, seen.sql


def test_last_used_is_kept_coarsely(world, client, token):
    client.get("/api/v1/search?q=满意度", headers=bearer(token))
    first = last_used(world, token)
    assert first is not None
    client.get("/api/v1/search?q=高血压", headers=bearer(token))
    assert last_used(world, token) == first  # within the minute: no write
    earlier = first - accounts.TOKEN_TOUCH_INTERVAL - dt.timedelta(seconds=1)
    with world.extensions["kb"].sessions() as session:
        session.execute(update(ApiToken).where(ApiToken.token_hash == accounts._digest(token)).values(last_used_at=earlier))
        session.commit()
    with Statements(world.extensions["kb"].engine) as seen:
        client.get("/api/v1/search?q=高血压", headers=bearer(token))
    assert last_used(world, token) > earlier
    writes = seen.writes_besides_the_query_log
    assert len(writes) == 1 and writes[0].startswith("UPDATE API_TOKENS")


def test_a_revoked_token_is_refused_at_once(world, client, token):
    assert client.get("/api/v1/search?q=满意度", headers=bearer(token)).status_code == 200
    with world.extensions["kb"].sessions() as session:  # another process or worker revokes it
        session.execute(update(ApiToken).where(ApiToken.token_hash == accounts._digest(token))
                        .values(revoked_at=accounts.utcnow()))
        session.commit()
    response = client.get("/api/v1/search?q=满意度", headers=bearer(token))
    assert response.status_code == 401 and response.is_json


def test_a_token_stops_at_once_when_its_user_logs_out_everywhere_or_is_disabled(world, client, token, make_user):
    assert client.get("/api/v1/search?q=满意度", headers=bearer(token)).status_code == 200
    with world.extensions["kb"].sessions() as session:
        user = session.scalar(select(User).where(User.username == "caizheng"))
        accounts.end_sessions(session, Actor.of(user), user, "测试：退出全部登录")
        session.commit()
    assert client.get("/api/v1/search?q=满意度", headers=bearer(token)).status_code == 401
    make_user("finance", username="caizheng2")
    second = client.post("/api/v1/tokens", json={"username": "caizheng2", "password": PASSWORD}).get_json()["token"]
    assert client.get("/api/v1/search?q=满意度", headers=bearer(second)).status_code == 200
    with world.extensions["kb"].sessions() as session:
        session.execute(update(User).where(User.username == "caizheng2").values(is_active=False))
        session.commit()
    assert client.get("/api/v1/search?q=满意度", headers=bearer(second)).status_code == 401


def search(client, token, query: str) -> dict:
    response = client.get(f"/api/v1/search?q={query}&limit=20", headers=bearer(token))
    assert response.status_code == 200
    return response.get_json()


def test_an_edit_shows_in_the_next_search(world, client, token):
    """Search, edit, search again: analysed queries and answers cached for the index version are not used
    once an edit has changed the index."""
    before = search(client, token, "疾控局 满意度指标")["hits"]  # no department is called that yet
    assert before and {hit["department"]["code"] for hit in before if hit["department"]} != {"102"}
    with world.extensions["kb"].sessions() as session:
        session.scalar(select(Department).where(Department.code == "102")).name = "县疾病预防控制局"
        session.commit()  # re-indexes the department's indicators after the commit
    after = search(client, token, "疾控局 满意度指标")["hits"]
    # The department's own indicators, then the common ones (共性指标, no department) of that category.
    own = [hit for hit in after if hit["department"]]
    assert own and all(hit["department"] == {"code": "102", "name": "县疾病预防控制局"} for hit in own)

    assert search(client, token, "阿巴阿巴")["total"] == 0
    indicator = client.get("/api/v1/indicators/WJ-006", headers=bearer(token))
    body = indicator.get_json() | {"name": "高血压患者阿巴阿巴服务率"}
    saved = client.put("/api/v1/indicators/WJ-006", json=body,
                       headers=bearer(token) | {"If-Match": indicator.headers["ETag"]})
    assert saved.status_code == 200, saved.get_json()
    found = search(client, token, "阿巴阿巴")
    assert found["total"] == 1 and found["hits"][0]["code"] == "WJ-006"
    assert found["hits"][0]["name"] == "高血压患者阿巴阿巴服务率"


def test_the_search_answer_is_the_schemas_dump(world, client, token):
    """The endpoint sends search_indicators' answer without dumping it through the schema: it must be exactly
    what the schema (and the OpenAPI document) says."""
    state = world.extensions["kb"]
    for query in ("高血压 管理", "满意度", "yszxl", "卫健委的满意度指标", "履约"):
        body = client.get(f"/api/v1/search?q={query}&limit=7&offset=1", headers=bearer(token)).get_json()
        with state.sessions() as session:
            expected = SearchResultSchema().dump(search_indicators(session, state.search, query, limit=7, offset=1))
        assert body == expected and {"total", "hits", "facets", "suggestion"} <= set(body)

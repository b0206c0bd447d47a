"""``GET /api/v1/self-evaluations`` (CONTRACT §7): shape, token, department scoping."""
from __future__ import annotations

import pytest

from kb.services import selfeval
from kb.services.audit import Actor
from tests.kb.selfeval.builders import filled_bytes
from tests.webapp.conftest import PASSWORD


def import_tables(app, tables: list[tuple[str, str, int]]) -> None:
    """(project, department code, year) tables, as finance would import them."""
    with app.extensions["kb"].sessions() as session:
        files = [(f"{i}.xlsx", filled_bytes(project=p, department=d, year=y)) for i, (p, d, y) in enumerate(tables)]
        selfeval.import_selfevaluations(session, Actor("财政", "finance"), files)
        session.commit()


@pytest.fixture
def tables(world):
    import_tables(world, [("教育项目", "101", 2023), ("卫生项目", "102", 2023), ("旧项目", "101", 2022)])
    return world


def token_for(client, make_user, role: str, department: str | None = None) -> dict:
    user = make_user(role, department)
    response = client.post("/api/v1/tokens", json={"username": user.username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_finance_sees_every_project_of_the_year(tables, client, make_user):
    body = client.get("/api/v1/self-evaluations?year=2023", headers=token_for(client, make_user, "finance")).get_json()
    assert sorted(body, key=lambda r: r["project"]) == [
        {"project": "卫生项目", "department": "县卫生健康局", "score": 91.36, "grade": "优"},
        {"project": "教育项目", "department": "县教育局", "score": 91.36, "grade": "优"},
    ]


def test_a_department_sees_only_its_own(tables, client, make_user):
    body = client.get("/api/v1/self-evaluations?year=2023", headers=token_for(client, make_user, "department", "101")).get_json()
    assert [row["project"] for row in body] == ["教育项目"]


def test_token_required_and_year_checked(tables, client, make_user):
    assert client.get("/api/v1/self-evaluations?year=2023").status_code == 401
    response = client.get("/api/v1/self-evaluations", headers=token_for(client, make_user, "expert"))
    assert response.status_code == 422 and "year" in str(response.get_json())


def test_documented_in_openapi(world, client):
    assert "/api/v1/self-evaluations" in client.get("/api/v1/openapi.json").get_json()["paths"]

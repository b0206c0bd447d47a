"""``/api/v1`` (CONTRACT §5): shapes, token authentication, errors as JSON, the OpenAPI document."""
from __future__ import annotations

import pytest

from tests.webapp.conftest import PASSWORD


@pytest.fixture
def token(world, client, make_user):
    make_user("department", "101", username="jiaoyu")
    response = client.post("/api/v1/tokens", json={"username": "jiaoyu", "password": PASSWORD})
    assert response.status_code == 201
    return response.get_json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_refuse_bad_credentials_with_401(world, client, make_user):
    make_user("finance", username="caizheng")
    response = client.post("/api/v1/tokens", json={"username": "caizheng", "password": "wrong"})
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.get_json()["message"]
    missing = client.post("/api/v1/tokens", json={"username": "caizheng"})
    assert missing.status_code == 422


def test_without_credentials_the_api_answers_401_json(world, client):
    response = client.get("/api/v1/search?q=高血压")
    assert response.status_code == 401 and response.is_json
    assert client.get("/api/v1/search?q=高血压", headers=bearer("not-a-token")).status_code == 401


def test_search_has_the_contract_shape(world, client, token):
    response = client.get("/api/v1/search?q=高血压 管理&limit=5", headers=bearer(token))
    body = response.get_json()
    assert response.status_code == 200
    assert {"total", "hits"} <= set(body)
    hit = next(hit for hit in body["hits"] if hit["code"] == "WJ-006")
    assert set(hit) == {"code", "name", "department", "level1", "level2", "nature", "unit", "score", "highlight", "why"}
    assert hit["department"] == {"code": "102", "name": "县卫生健康局"}
    filtered = client.get("/api/v1/search?q=率&department=101&level1=产出指标", headers=bearer(token)).get_json()
    assert filtered["hits"] and all(h["department"]["code"] == "101" and h["level1"] == "产出指标" for h in filtered["hits"])
    paged = client.get("/api/v1/search?q=率&limit=2&offset=2", headers=bearer(token)).get_json()
    assert len(paged["hits"]) == 2


def test_bad_parameters_are_422_with_chinese_messages(world, client, token):
    response = client.get("/api/v1/search?q=x&limit=1000", headers=bearer(token))
    assert response.status_code == 422
    assert "limit 应在 1–100 之间" in str(response.get_json())
    assert client.get("/api/v1/recommend", headers=bearer(token)).status_code == 422


def test_recommend_has_the_search_shape(world, client, token):
    body = client.get("/api/v1/recommend?text=基层高血压糖尿病患者健康管理项目&limit=5", headers=bearer(token)).get_json()
    assert set(body) == {"total", "hits"}
    assert isinstance(body["total"], int)


def test_indicator_has_every_field_of_the_yaml_form(world, client, token):
    body = client.get("/api/v1/indicators/WJ-006", headers=bearer(token)).get_json()
    for field in ("code", "name", "level1", "level2", "nature", "operator", "target", "unit", "definition",
                  "formula", "basis", "data_source", "projects", "keywords"):
        assert field in body
    assert body["basis"][0]["kind"] in ("政策文件", "行业标准", "历史标准", "计划标准", "三定方案", "其他")
    missing = client.get("/api/v1/indicators/NOPE", headers=bearer(token))
    assert missing.status_code == 404 and "不存在" in missing.get_json()["message"]


def test_departments_list_the_county_with_set_status(world, client, token):
    body = client.get("/api/v1/departments", headers=bearer(token)).get_json()
    assert len(body) == 77
    education = next(d for d in body if d["code"] == "101")
    assert education["status"] == "certified" and education["indicator_count"] > 0


def test_the_web_session_works_for_the_api_too(world, client, make_user, login):
    make_user("expert", username="zhuanjia")
    login(client, "zhuanjia")
    assert client.get("/api/v1/departments").status_code == 200


def test_password_change_voids_tokens(world, client, token, login):
    assert client.get("/api/v1/departments", headers=bearer(token)).status_code == 200
    login(client, "jiaoyu")
    client.post("/password", data={"current": PASSWORD, "new": "Taihang#2026x", "confirm": "Taihang#2026x"})
    assert client.get("/api/v1/departments", headers=bearer(token)).status_code == 401


def test_openapi_document_describes_the_whole_api(world, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/search", "/api/v1/recommend", "/api/v1/indicators/{code}", "/api/v1/departments",
                 "/api/v1/tokens"):
        assert path in spec["paths"]
    assert "bearer" in spec["components"]["securitySchemes"]
    assert "SearchHit" in spec["components"]["schemas"]


def test_put_indicator_with_the_same_rules_as_the_pages(world, client, make_user):
    make_user("finance", username="caizheng")
    make_user("department", "109", username="xiangzhen")
    finance = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD}).get_json()["token"]
    department = client.post("/api/v1/tokens", json={"username": "xiangzhen", "password": PASSWORD}).get_json()["token"]
    read = client.get("/api/v1/indicators/WJ-006", headers=bearer(finance))
    body, etag = read.get_json(), read.headers["ETag"]
    body["target"] = "66"
    # A department user: another department's indicator is refused in the API as in the pages.
    refused = client.put("/api/v1/indicators/WJ-006", json=body, headers={**bearer(department), "If-Match": etag})
    assert refused.status_code == 403 and "本部门" in refused.get_json()["message"]
    assert client.put("/api/v1/indicators/WJ-006", json=body, headers=bearer(finance)).status_code == 428
    saved = client.put("/api/v1/indicators/WJ-006", json=body, headers={**bearer(finance), "If-Match": etag})
    assert saved.status_code == 200 and saved.get_json()["target"] == "66"
    body["definition"] = "第二个人的修改"
    stale = client.put("/api/v1/indicators/WJ-006", json=body, headers={**bearer(finance), "If-Match": etag})
    assert stale.status_code == 409 and "target" in stale.get_json()["changes"]
    body["unit"] = ""
    invalid = client.put("/api/v1/indicators/WJ-006", json=body, headers={**bearer(finance), "If-Match": saved.headers["ETag"]})
    assert invalid.status_code == 422 and "计量单位" in str(invalid.get_json())


def test_cookie_writes_to_the_api_need_the_csrf_header(world, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    read = client.get("/api/v1/indicators/WJ-006")
    body = read.get_json()
    without = client.put("/api/v1/indicators/WJ-006", json=body, headers={"If-Match": read.headers["ETag"]})
    assert without.status_code == 400
    token = client.csrf_token()
    with_token = client.put("/api/v1/indicators/WJ-006", json=body,
                            headers={"If-Match": read.headers["ETag"], "X-CSRFToken": token})
    assert with_token.status_code == 200

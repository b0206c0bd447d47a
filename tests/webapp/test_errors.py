"""Errors that escape a view become Chinese pages with the right status: tested through real
requests, so the handler's registration and its page/JSON choice are what is checked."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

import kb.services.indicators as indicator_service
from kb.models import Indicator
from kb.schemas import IndicatorSchema
from kb.services.library import apply_indicator_fields
from tests.conftest import indicator_data

CODE = "ERR-1"


@pytest.fixture
def racing(app, monkeypatch, make_user):
    """A common indicator, and a second writer that saves it while a request is between reading the
    row (its version check passes) and writing it: the UPDATE ... WHERE row_version = 1 matches no row,
    as when two saves interleave, and SQLAlchemy raises StaleDataError."""
    sessions = app.extensions["kb"].sessions
    with sessions() as session:
        indicator = Indicator(code=CODE, department=None, position=0)
        apply_indicator_fields(indicator, IndicatorSchema().load(indicator_data(code=CODE)))
        session.add(indicator)
        session.commit()
    original = indicator_service.apply_indicator_fields

    def the_other_save_lands_first(target, fields):
        with sessions() as other:
            other.execute(update(Indicator).where(Indicator.code == CODE).values(row_version=Indicator.row_version + 1))
            other.commit()
        return original(target, fields)

    monkeypatch.setattr(indicator_service, "apply_indicator_fields", the_other_save_lands_first)
    return make_user("finance")


def _form() -> dict:
    data = indicator_data(code=CODE, name="并发修改")
    fields = {k: v for k, v in data.items() if isinstance(v, str) and k != "code"}
    fields.update(row_version="1", projects="、".join(data["projects"]), keywords="、".join(data["keywords"]),
                  basis_kind=data["basis"][0]["kind"], basis_title=data["basis"][0]["title"], basis_doc_no="")
    return fields


def _version(app) -> int:
    with app.extensions["kb"].sessions() as session:
        return session.scalar(select(Indicator.row_version).where(Indicator.code == CODE))


def test_stale_data_becomes_a_conflict_page(app, client, login, racing):
    login(client, racing.username)
    response = client.post(f"/indicators/{CODE}/edit", data=_form())
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "已被他人同时修改" in page and "没有保存" in page
    assert _version(app) == 2  # only the other save landed


def test_stale_data_is_json_under_the_api(app, client, login, racing):
    login(client, racing.username)
    response = client.put(f"/api/v1/indicators/{CODE}", json=indicator_data(code=CODE, name="并发修改"),
                          headers={"If-Match": '"1"', "X-CSRFToken": client.csrf_token()})
    assert response.status_code == 409
    assert "已被他人同时修改" in response.get_json()["message"]
    assert _version(app) == 2

"""Errors that escape a view become Chinese pages with the right status."""
from sqlalchemy.orm.exc import StaleDataError

from webapp.errors import _stale_data


def test_stale_data_becomes_a_conflict_page(app):
    with app.test_request_context("/indicators/JY-001/edit"):
        page, status = _stale_data(StaleDataError("UPDATE matched 0 rows"))
    assert status == 409
    assert "已被他人同时修改" in page and "没有保存" in page


def test_stale_data_is_json_under_the_api(app):
    with app.test_request_context("/api/v1/indicators/JY-001"):
        response = _stale_data(StaleDataError("UPDATE matched 0 rows"))
    assert response.status_code == 409
    assert "已被他人同时修改" in response.get_json()["message"]

"""Audit gaps closed (issue 14 item 10): request id, department and result on every row; exports,
refused imports and refused (409) saves are recorded."""
from __future__ import annotations

from sqlalchemy import select

from kb.models import AuditEntry
from tests.kb.spreadsheets.builders import filled, xlsx_bytes
from tests.webapp.test_editing import form_of
from tests.webapp.test_sheets import upload


def rows(app, action: str) -> list[AuditEntry]:
    with app.extensions["kb"].sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_export_is_recorded_with_request_id_and_department(world, client, make_user, login):
    make_user("department", "101", username="jiaoyu")
    login(client, "jiaoyu")
    response = client.get("/sheets/export/department/101.xlsx")
    assert response.status_code == 200
    [row] = rows(world, "export")
    assert row.actor == "jiaoyu" and row.department == "101" and row.result == "ok"
    assert row.request_id and row.request_id == response.headers["X-Request-Id"]
    assert "101" in row.entity_key and row.row_hash


def test_refused_import_is_recorded(world, client, make_user, login):
    make_user("department", "950", username="ceshi")
    login(client, "ceshi")
    response = upload(client, xlsx_bytes([filled(**{"指标性质": "不知道"})]))
    assert client.get(response.headers["Location"]).status_code == 422
    [row] = rows(world, "import_refused")
    assert row.result == "refused" and row.department == "950" and "问题" in row.summary


def test_refused_conflicting_save_is_recorded(world, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    data = form_of(client.get("/indicators/WJ-006/edit").get_data(as_text=True))
    assert client.post("/indicators/WJ-006/edit", data={**data, "target": "61"}).status_code == 302
    assert client.post("/indicators/WJ-006/edit", data={**data, "target": "62"}).status_code == 409
    [row] = rows(world, "save_conflict")
    assert row.result == "conflict" and row.actor == "caizheng" and "WJ-006" in row.summary

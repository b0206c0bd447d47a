"""Control and invisible characters (issue 14 item 5, 11): every input channel refuses them with the
same located message, and every export survives what was stored before the rule."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select

from kb.errors import ValidationFailed
from kb.models import Department, Indicator
from kb.services.library import parse_library
from tests.kb.spreadsheets.builders import filled, xlsx_bytes
from tests.webapp.conftest import PASSWORD
from tests.webapp.test_editing import form_of
from tests.webapp.test_sheets import upload
from webapp.cli import main

STORED = "学生资助\x07\x1b覆盖率\u202e"  # (a database cannot hold a lone surrogate or, PostgreSQL, NUL)


def store_raw(app, code: str = "JY-001", **fields) -> None:
    """Write straight into the table, as data stored before input was checked."""
    with app.extensions["kb"].sessions() as session:
        indicator = session.scalar(select(Indicator).where(Indicator.code == code))
        for key, value in fields.items():
            setattr(indicator, key, value)
        session.commit()


@pytest.fixture
def finance(world, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    return client


def test_web_form_refuses_control_characters(world, finance):
    data = form_of(finance.get("/indicators/WJ-006/edit").get_data(as_text=True))
    data["name"] = "高血压\x07\x1b管理率"
    response = finance.post("/indicators/WJ-006/edit", data=data)
    assert response.status_code == 422
    assert "第 4 个字符是不可见的响铃符 BEL" in response.get_data(as_text=True)


def test_api_refuses_zero_width_and_bidi_characters(world, client, make_user):
    make_user("finance", username="caizheng")
    token = client.post("/api/v1/tokens", json={"username": "caizheng", "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    read = client.get("/api/v1/indicators/WJ-006", headers=headers)
    body = {**read.get_json(), "definition": "说明\u202e文字"}
    response = client.put("/api/v1/indicators/WJ-006", json=body, headers={**headers, "If-Match": read.headers["ETag"]})
    assert response.status_code == 422 and "第 3 个字符是不可见的格式字符" in str(response.get_json())


def test_excel_import_refuses_them_row_by_row(world, make_user, login, client):
    make_user("department", "950", username="ceshi")
    login(client, "ceshi")
    response = upload(client, xlsx_bytes([filled(**{"指标解释": "说明\u200b文字"})]))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "第 3 个字符是不可见的格式字符" in page


def test_yaml_load_refuses_them(session, tmp_path):
    path = tmp_path / "990.yaml"
    path.write_text('department: {code: "990", name: "测试\\a局"}\n', encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        parse_library(session, [path])
    assert any("响铃符 BEL" in problem.message for problem in caught.value.problems)


@pytest.mark.parametrize("url", ["/sheets/export/library.xlsx", "/sheets/export/department/101.xlsx"])
def test_exports_survive_stored_control_characters(world, finance, url):
    store_raw(world, name=STORED, definition="定义\x0b\x1f文字")
    response = finance.get(url)
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    values = [cell.value for row in book["指标梳理表"].iter_rows() for cell in row]
    assert "学生资助覆盖率" in values and "定义文字" in values


def test_cli_export_survives_stored_control_characters(world, runner, tmp_path):
    store_raw(world, name=STORED)
    result = runner.invoke(main, ["export-xlsx", str(tmp_path / "全库.xlsx")])
    assert result.exit_code == 0, result.output
    openpyxl.load_workbook(tmp_path / "全库.xlsx")


def test_goals_export_of_a_department_named_with_a_line_break(world, finance):
    with world.extensions["kb"].sessions() as session:
        session.scalar(select(Department).where(Department.code == "102")).name = "县卫生\r\n健康局\x07"
        session.commit()
    response = finance.get("/goals/export/102/2025.xlsx")
    assert response.status_code == 200
    assert "\r" not in response.headers["Content-Disposition"] and "\n" not in response.headers["Content-Disposition"]
    openpyxl.load_workbook(io.BytesIO(response.data))

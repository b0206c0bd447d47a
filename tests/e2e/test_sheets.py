"""In Chromium: download the template → fill it with mistakes → see the report → fix → preview → confirm."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from kb.models import Indicator
from kb.services.audit import Actor
from kb.services.users import add_user
from tests.e2e.conftest import PASSWORD

USERNAME = "tianbiao109"


@pytest.fixture
def department_109_user(live_server):
    """A user of department 109, which has no indicator set yet (its first import starts a draft)."""
    with live_server.app.extensions["kb"].sessions() as session:
        add_user(session, Actor.system("e2e"), USERNAME, PASSWORD, "department", "109")
        session.commit()
    return USERNAME


def fill(path: Path, rows: list[list[object]]) -> None:
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["指标梳理表"]
    for offset, values in enumerate(rows):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=6 + offset, column=column, value=value)  # below the three example rows
    workbook.save(path)


GOOD = ["", "产出指标", "数量指标", "检验检测批次", "定量", "", "≥1200批次", "", "全年完成的食品抽检批次。", "",
        "计划标准", "年度抽检计划", "", "抽检台账", "食品安全抽检", "抽检、食品"]
SECOND = ["", "满意度指标", "服务对象满意度指标", "群众满意度", "", "", "≥90%", "", "抽样调查。", "", "历史标准",
          "上年满意度调查", "", "问卷", "", ""]


@pytest.mark.e2e
def test_download_fill_report_fix_preview_confirm(page, live_server, login, department_109_user, tmp_path, screenshot):
    login(page, department_109_user)
    page.click(".mainnav a:has-text('模版导入')")
    page.wait_for_selector("h1:has-text('梳理模版')")
    screenshot(page, "sheets-index")
    with page.expect_download() as download_info:
        page.click("text=下载空白模版")
    download = download_info.value
    assert download.suggested_filename == "分部门绩效指标体系梳理模版.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    broken = list(GOOD)
    broken[2] = "社会效益指标"            # not under 产出指标
    second = list(SECOND)
    second[6] = "≥XX%"                    # a placeholder left in
    fill(path, [broken, second])
    page.set_input_files("#upload-file", str(path))
    page.click("button:has-text('上传并检查')")
    page.wait_for_selector("h1:has-text('处问题')")
    assert page.locator("h1").inner_text() == "发现 2 处问题，未写入任何数据"
    rows = page.locator("tr.problem")
    assert rows.count() == 2
    assert "第 6 行" in rows.nth(0).inner_text() and "二级指标" in rows.nth(0).inner_text()
    assert "第 7 行" in rows.nth(1).inner_text() and "占位符" in rows.nth(1).inner_text()
    screenshot(page, "sheets-report")

    fill(path, [GOOD, SECOND])
    page.set_input_files("#upload-file", str(path))
    page.click("button:has-text('上传并检查')")
    page.wait_for_selector("h1:has-text('检查通过')")
    assert page.locator("[data-count=added]").inner_text() == "2"
    added = page.locator("#added").inner_text()
    assert "D109-001" in added and "≥1200批次" in added and "≥90%" in added
    assert "示例" in page.locator("#warnings").inner_text()
    screenshot(page, "sheets-preview")
    with live_server.app.extensions["kb"].sessions() as session:
        assert session.scalar(select(Indicator).where(Indicator.code == "D109-001")) is None  # not yet

    page.click("button:has-text('确认导入')")
    page.wait_for_selector("h1:has-text('导入完成')")
    assert "新增 2 项" in page.locator(".flashes").inner_text()
    with live_server.app.extensions["kb"].sessions() as session:
        names = session.scalars(select(Indicator.name).where(Indicator.code.in_(["D109-001", "D109-002"]))).all()
    assert sorted(names) == ["检验检测批次", "群众满意度"]
    page.click("text=查看该部门指标集")
    page.wait_for_selector("text=检验检测批次")


@pytest.mark.e2e
def test_wrong_file_type_is_caught_before_uploading(page, live_server, login, department_109_user, tmp_path):
    login(page, department_109_user)
    page.goto(f"{live_server.url}/sheets/")
    path = tmp_path / "旧模版.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0 old excel")
    page.set_input_files("#upload-file", str(path))
    error = page.locator("[data-upload-error]")
    assert "另存为 Excel 工作簿" in error.inner_text()
    page.click("button:has-text('上传并检查')")
    assert page.url.endswith("/sheets/")  # nothing was sent


@pytest.mark.e2e
def test_printable_catalogue(page, live_server, login):
    login(page, "zhuanjia")
    page.goto(f"{live_server.url}/sheets/catalogue?department=101")
    assert page.locator("h2").first.inner_text().startswith("101 县教育局")
    page.emulate_media(media="print")
    assert not page.locator(".catalogue-tools").is_visible()  # the buttons are not printed
    pdf = page.pdf(format="A4", landscape=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000

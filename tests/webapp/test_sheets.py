"""模版导入 pages and the sheets commands: download, upload → report → preview → confirm, exports."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import yaml
from sqlalchemy import func, select

from kb.models import AuditEntry, Indicator
from tests.kb.spreadsheets.builders import filled, xlsx_bytes
from webapp.cli import main

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def count(app, model=Indicator, **where):
    with app.extensions["kb"].sessions() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return session.scalar(query)


def upload(client, content: bytes, filename="梳理表.xlsx", **form):
    return client.post("/sheets/upload", data={"file": (io.BytesIO(content), filename), **form},
                       content_type="multipart/form-data")


def token_of(response) -> str:
    match = re.search(r"/sheets/imports/([0-9a-f]{32})", response.headers["Location"])
    assert match, response.headers.get("Location")
    return match.group(1)


def fingerprint_of(page: str) -> str:
    return re.search(r'name="fingerprint" value="([0-9a-f]+)"', page).group(1)


@pytest.fixture
def department_user(world, make_user, login, client):
    make_user("department", "950", username="ceshi")  # a new department with a draft set
    login(client, "ceshi")
    return client


def test_index_offers_downloads_upload_and_exports(world, make_user, login, client):
    make_user("department", "950", username="ceshi")
    login(client, "ceshi")
    page = client.get("/sheets/").get_data(as_text=True)
    for text in ("下载空白模版", "下载本部门模版", "上传并检查", "整个指标库", "打开目录"):
        assert text in page
    assert 'href="/sheets/"' in page and "模版导入" in page  # the nav item appears by itself


def test_blank_template_download(world, make_user, login, client):
    make_user("expert", username="zhuanjia")
    login(client, "zhuanjia")
    response = client.get("/sheets/template")
    assert response.status_code == 200 and response.mimetype == XLSX
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    workbook = openpyxl.load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames[:3] == ["填表说明", "指标梳理表", "资料清单"]


def test_expert_cannot_upload(world, make_user, login, client):
    make_user("expert", username="zhuanjia")
    login(client, "zhuanjia")
    assert upload(client, xlsx_bytes([filled()])).status_code == 403


def test_upload_with_mistakes_shows_every_problem_and_writes_nothing(department_user, world):
    before = count(world)
    response = upload(department_user, xlsx_bytes([filled(计量单位=""), filled(一级指标="投入指标", 三级指标名称="乙")]))
    assert response.status_code == 302
    report = department_user.get(response.headers["Location"])
    page = report.get_data(as_text=True)
    assert report.status_code == 422
    assert "发现 2 处问题，未写入任何数据" in page
    assert "第 3 行" in page and "计量单位" in page and "必须填写计量单位" in page
    assert "第 4 行" in page and "一级指标只能是" in page
    assert count(world) == before
    uploads = Path(world.config["KB_DATA_DIR"]) / "uploads"
    assert not list(uploads.glob("*.upload"))  # the rejected file is deleted; the report is kept
    assert department_user.get(response.headers["Location"]).status_code == 422


def test_upload_preview_confirm_writes_once(department_user, world):
    before = count(world)
    response = upload(department_user, xlsx_bytes([filled(), filled(三级指标名称="培训合格率", 指标值="≥95%", 计量单位="")]))
    preview = department_user.get(response.headers["Location"])
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "检查通过" in page and "D950-001" in page and "确认导入（新增 2 项" in page
    assert count(world) == before  # nothing written by the preview
    token = token_of(response)
    confirm = department_user.post(f"/sheets/imports/{token}/confirm", data={"fingerprint": fingerprint_of(page)})
    assert confirm.status_code == 302
    done = department_user.get(confirm.headers["Location"]).get_data(as_text=True)
    assert "导入完成" in done and "新增 <strong>2</strong>" in done
    assert count(world) == before + 2
    again = department_user.post(f"/sheets/imports/{token}/confirm", data={"fingerprint": fingerprint_of(page)})
    assert again.status_code == 302 and count(world) == before + 2  # a second click imports nothing more
    assert count(world, AuditEntry, action="import") == 1
    leftovers = sorted(p.suffix for p in (Path(world.config["KB_DATA_DIR"]) / "uploads").glob(f"{token}.*"))
    assert leftovers == [".json"]  # the file and the saved plan are gone; the result stays for a reload


def test_changes_are_shown_field_by_field(department_user, world):
    first = upload(department_user, xlsx_bytes([filled(指标编码="D950-001")]))
    page = department_user.get(first.headers["Location"]).get_data(as_text=True)
    department_user.post(f"/sheets/imports/{token_of(first)}/confirm", data={"fingerprint": fingerprint_of(page)})
    second = upload(department_user, xlsx_bytes([filled(指标编码="D950-001", 指标值=320)]))
    page = department_user.get(second.headers["Location"]).get_data(as_text=True)
    assert "修改 1 项（逐项对比）" in page
    assert re.search(r"指标值</td><td class=\"del\">300</td><td class=\"ins\">320</td>", page)


def test_confirm_after_someone_else_changed_the_library_asks_to_look_again(department_user, world):
    first = upload(department_user, xlsx_bytes([filled(指标编码="D950-001")]))
    page = department_user.get(first.headers["Location"]).get_data(as_text=True)
    department_user.post(f"/sheets/imports/{token_of(first)}/confirm", data={"fingerprint": fingerprint_of(page)})
    second = upload(department_user, xlsx_bytes([filled(指标编码="D950-001", 指标值=320)]))
    page = department_user.get(second.headers["Location"]).get_data(as_text=True)
    with world.extensions["kb"].sessions() as session:
        session.scalar(select(Indicator).where(Indicator.code == "D950-001")).definition = "他人修改"
        session.commit()
    response = department_user.post(f"/sheets/imports/{token_of(second)}/confirm",
                                     data={"fingerprint": fingerprint_of(page)}, follow_redirects=True)
    assert "请重新预览" in response.get_data(as_text=True)
    with world.extensions["kb"].sessions() as session:
        assert session.scalar(select(Indicator.target).where(Indicator.code == "D950-001")) == "300"


def test_department_user_imports_only_into_its_own_department(department_user, world):
    response = upload(department_user, xlsx_bytes([filled()]), department="101")  # the field is ignored
    page = department_user.get(response.headers["Location"]).get_data(as_text=True)
    assert "导入到：950" in page


def test_department_with_a_certified_set_is_refused(world, make_user, login, client):
    make_user("department", "101", username="jiaoyu")  # the seed's 101 set is certified
    login(client, "jiaoyu")
    page = client.get("/sheets/").get_data(as_text=True)
    assert "暂不能导入" in page and "专家已审定" in page and 'name="file"' not in page
    response = upload(client, xlsx_bytes([filled()]))
    assert client.get(response.headers["Location"]).status_code == 403
    assert not list((Path(world.config["KB_DATA_DIR"]) / "uploads").glob("*"))  # the refused file is gone


def test_someone_elses_upload_is_not_found(department_user, world, make_user, login, app):
    response = upload(department_user, xlsx_bytes([filled()]))
    token = token_of(response)
    other = app.test_client()
    make_user("department", "951", username="qita")
    login(other, "qita")
    assert other.get(f"/sheets/imports/{token}").status_code == 404
    assert other.post(f"/sheets/imports/{token}/confirm", data={"fingerprint": "x"}).status_code == 404
    assert department_user.get("/sheets/imports/../../etc").status_code == 404


def test_cancel_deletes_the_upload(department_user, world):
    response = upload(department_user, xlsx_bytes([filled()]))
    token = token_of(response)
    department_user.post(f"/sheets/imports/{token}/cancel")
    assert department_user.get(f"/sheets/imports/{token}").status_code == 404
    assert not list((Path(world.config["KB_DATA_DIR"]) / "uploads").glob(f"{token}*"))


def test_hostile_file_is_reported_not_parsed(department_user, world):
    response = upload(department_user, b"<html><table></table></html>", "导出.xls")
    page = department_user.get(response.headers["Location"]).get_data(as_text=True)
    assert "网页格式" in page


def test_import_rate_is_limited(department_user, world, monkeypatch):
    from kb.services import uploads

    monkeypatch.setattr(uploads, "IMPORTS_PER_HOUR", 0)
    response = upload(department_user, xlsx_bytes([filled()]))
    assert response.status_code == 403 and "一小时内最多导入" in response.get_data(as_text=True)


def test_finance_chooses_the_department_or_the_column(world, make_user, login, client):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    page = client.get("/sheets/").get_data(as_text=True)
    assert "按表中“所属部门”列" in page
    missing = upload(client, xlsx_bytes([filled()]))
    assert missing.status_code == 422 and "请选择要导入到哪个部门" in missing.get_data(as_text=True)
    library = client.get("/sheets/export/library.xlsx").data
    response = upload(client, library, "全库.xlsx", department="*")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "检查通过" in page and "文件内容与指标库完全一致" in page


def test_exports_are_reimportable_and_neutralised(world, make_user, login, client):
    with world.extensions["kb"].sessions() as session:
        indicator = session.scalar(select(Indicator).where(Indicator.code == "JY-001"))
        indicator.definition = "=HYPERLINK(\"http://evil\",\"点我\")"
        session.commit()
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    response = client.get("/sheets/export/department/101.xlsx")
    assert response.status_code == 200 and "101" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    for name in archive.namelist():
        if name.startswith("xl/worksheets/"):
            assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)
    sheet = openpyxl.load_workbook(io.BytesIO(response.data))["指标梳理表"]
    definitions = [row[8].value for row in sheet.iter_rows(min_row=3)]
    assert "'=HYPERLINK(\"http://evil\",\"点我\")" in definitions
    again = upload(client, response.data, "101.xlsx", department="101")
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "文件内容与指标库完全一致" in page


def test_yaml_exports(world, make_user, login, client):
    make_user("expert", username="zhuanjia")
    login(client, "zhuanjia")
    single = client.get("/sheets/export/department/101.yaml")
    assert yaml.safe_load(single.data)["department"]["code"] == "101"
    archive = zipfile.ZipFile(io.BytesIO(client.get("/sheets/export/library-yaml.zip").data))
    assert "departments/101.yaml" in archive.namelist() and "indicators/common.yaml" in archive.namelist()
    assert client.get("/sheets/export/department/999.yaml").status_code == 404


def test_printable_catalogue(world, make_user, login, client):
    make_user("expert", username="zhuanjia")
    login(client, "zhuanjia")
    page = client.get("/sheets/catalogue?department=101").get_data(as_text=True)
    assert "101 县教育局" in page and "<h3>产出指标</h3>" in page and "data-print" in page
    assert "<style>" not in page  # CSP: the stylesheet is a file
    whole = client.get("/sheets/catalogue").get_data(as_text=True)
    assert whole.index("共性指标") < whole.index("101 县教育局") < whole.index("102 ")


# --- the commands -------------------------------------------------------------------------------

def test_cli_template_export_import_round_trip(runner, tmp_path: Path):
    assert runner.invoke(main, ["init"]).exit_code == 0
    blank = runner.invoke(main, ["template", str(tmp_path)])
    assert blank.exit_code == 0 and (tmp_path / "分部门绩效指标体系梳理模版.xlsx").exists()
    exported = runner.invoke(main, ["export-xlsx", str(tmp_path / "全库.xlsx")])
    assert exported.exit_code == 0, exported.output
    result = runner.invoke(main, ["import", str(tmp_path / "全库.xlsx"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "新增 0、修改 0" in result.output and "未写入" in result.output


def test_cli_import_with_mistakes_exits_1_and_writes_nothing(runner, tmp_path: Path):
    assert runner.invoke(main, ["init"]).exit_code == 0
    path = tmp_path / "错的.xlsx"
    path.write_bytes(xlsx_bytes([filled(计量单位=""), filled(指标编码="JY-001")]))
    result = runner.invoke(main, ["import", str(path), "--department", "109"])
    assert result.exit_code == 1
    assert "发现 2 处问题，未写入任何数据" in result.output
    assert "指标梳理表，第 3 行，字段 计量单位" in result.output
    assert "已属于部门 101" in result.output


def test_cli_import_writes_and_reports(runner, tmp_path: Path):
    assert runner.invoke(main, ["init"]).exit_code == 0
    path = tmp_path / "好的.csv"
    from tests.kb.spreadsheets.builders import csv_bytes

    path.write_bytes(csv_bytes([filled(指标值="≥300人次", 计量单位="")], "gbk"))
    result = runner.invoke(main, ["import", str(path), "--department", "109"])
    assert result.exit_code == 0, result.output
    assert "新增  好的.csv 第 2 行  D109-001" in result.output and "导入完成：新增 1" in result.output


def test_cli_catalogue_is_standalone(runner, tmp_path: Path):
    assert runner.invoke(main, ["init"]).exit_code == 0
    result = runner.invoke(main, ["export-catalogue", str(tmp_path / "目录.html"), "--department", "101"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "目录.html").read_text(encoding="utf-8")
    assert "<style>" in html and "县教育局" in html and "@page" in html


def test_cli_unknown_department(runner, tmp_path: Path):
    assert runner.invoke(main, ["init", "--no-seed"]).exit_code == 0
    result = runner.invoke(main, ["template", str(tmp_path / "x.xlsx"), "--department", "999"])
    assert result.exit_code == 1 and "部门 999 不存在" in result.output

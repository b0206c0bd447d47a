"""The generated 梳理模版: sheets, headers, dropdowns, frozen header, widths, examples, 资料清单,
pre-filling, and the committed copy in import_templates/ kept up to date."""
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from kb import vocab
from kb.spreadsheets.reader import read_table
from kb.spreadsheets.template import (
    CHECKLIST_ITEMS,
    EXAMPLES,
    FIRST_DATA_ROW,
    HEADER_ROW,
    build_workbook,
    indicator_cells,
    workbook_bytes,
)
from tests.conftest import indicator_data
from tests.kb.spreadsheets.builders import HEADERS

COMMITTED = Path(__file__).resolve().parents[3] / "import_templates" / "分部门绩效指标体系梳理模版.xlsx"
ISSUE_HEADERS = ["指标编码", "一级指标", "二级指标", "三级指标名称", "指标性质", "指标方向", "指标值", "计量单位", "指标解释",
                 "计算公式", "指标来源类型", "指标来源文件", "文号", "数据来源", "适用项目", "关键词", "备注"]


@pytest.fixture(scope="module")
def blank():
    return openpyxl.load_workbook(io.BytesIO(workbook_bytes(build_workbook())))


def header_row(sheet):
    return [cell.value for cell in sheet[HEADER_ROW]]


def test_sheets_and_headers(blank):
    assert blank.sheetnames == ["填表说明", "指标梳理表", "资料清单", "选项"]
    assert blank["选项"].sheet_state == "hidden"
    assert blank.active.title == "指标梳理表"
    assert header_row(blank["指标梳理表"])[:17] == ISSUE_HEADERS == HEADERS


def test_frozen_header_widths_and_help(blank):
    sheet = blank["指标梳理表"]
    assert sheet.freeze_panes == "E3"  # header rows and the name column stay visible
    assert sheet.column_dimensions["D"].width >= 20 and sheet.column_dimensions["A"].width >= 10
    assert "必填" in sheet["D2"].comment.text
    assert sheet.print_title_rows == "$2:$2"


def test_dropdowns_for_the_controlled_columns(blank):
    sheet = blank["指标梳理表"]
    options = blank["选项"]
    by_column = {}
    for validation in sheet.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            by_column[cell_range.coord[0]] = validation
    assert by_column["E"].formula1 == '"定量,定性"'
    assert "≥" in by_column["F"].formula1 and "定性" in by_column["F"].formula1
    level1_values = [c.value for c in options["A"][1:] if c.value]
    assert level1_values == list(vocab.taxonomy().level1_names())
    assert "'选项'!$A$2" in by_column["B"].formula1
    level2_values = [c.value for c in options["B"][1:] if c.value]
    assert "服务对象满意度指标" in level2_values and "经济成本指标" in level2_values
    unit_values = [c.value for c in options["C"][1:] if c.value]
    assert "%" in unit_values and "元/人·月" in unit_values
    assert by_column["H"].errorStyle == "information"  # other units are allowed (with a warning on import)
    assert [c.value for c in options["D"][1:] if c.value] == [k.value for k in vocab.BasisKind]
    assert by_column["K"].formula1.startswith("'选项'!$D$2")


def test_example_rows_are_valid_and_skipped_on_import(blank):
    sheet = blank["指标梳理表"]
    codes = [sheet.cell(row=FIRST_DATA_ROW + i, column=1).value for i in range(len(EXAMPLES))]
    assert codes == ["示例1", "示例2", "示例3"]
    from kb.schemas import IndicatorSchema

    for example in EXAMPLES:
        IndicatorSchema().load({**example, "code": "EX-1"})  # the examples themselves follow the rules
    table = read_table(workbook_bytes(build_workbook()), "模版.xlsx")
    assert len(table.sheets[0].rows) == 3


def test_instructions_sheet(blank):
    text = "\n".join(str(c.value) for row in blank["填表说明"].iter_rows() for c in row if c.value)
    for phrase in ("≥95%", "保留其指标编码", "确认后才一次性全部写入", "资料清单", "三级指标名称", "数量指标、质量指标、时效指标"):
        assert phrase in text


def test_checklist_sheet(blank):
    sheet = blank["资料清单"]
    assert [c.value for c in sheet[2]] == ["序号", "资料名称", "资料说明", "是否提供", "文件名称或份数", "备注"]
    names = [sheet.cell(row=3 + i, column=2).value for i in range(len(CHECKLIST_ITEMS))]
    assert names[:5] == ["三定方案", "部门预算项目清单", "政策文件", "行业标准", "历史数据"]
    (validation,) = sheet.data_validations.dataValidation
    assert validation.formula1 == '"已提供,未提供"'


def test_prefilled_with_a_department_set():
    rows = [indicator_data(code="A-1"), indicator_data(code="A-2", nature="定性", operator="定性", target="达到预期", unit="")]
    workbook = openpyxl.load_workbook(io.BytesIO(workbook_bytes(build_workbook(rows, department=("901", "测试局")))))
    sheet = workbook["指标梳理表"]
    assert "测试局" in sheet["A1"].value
    assert [sheet.cell(row=FIRST_DATA_ROW + i, column=1).value for i in range(3)] == ["A-1", "A-2", None]
    assert sheet.cell(row=FIRST_DATA_ROW, column=7).value == 95  # a number, not text
    assert sheet.cell(row=FIRST_DATA_ROW + 1, column=7).value == "达到预期"


def test_cells_starting_with_formula_characters_are_text(tmp_path):
    rows = [indicator_data(code="A-1", name="=1+1", definition="@SUM(A1)", formula="-解释", data_source="+86 电话",
                           remarks="\tTAB")]
    content = workbook_bytes(build_workbook(rows))
    archive = zipfile.ZipFile(io.BytesIO(content))
    for name in archive.namelist():
        if name.startswith("xl/worksheets/sheet"):
            xml = archive.read(name)
            assert b"<f>" not in xml and b"<f " not in xml
    sheet = openpyxl.load_workbook(io.BytesIO(content))["指标梳理表"]
    values = [c.value for c in sheet[FIRST_DATA_ROW]]
    assert "'=1+1" in values and "'@SUM(A1)" in values and "'-解释" in values and "'+86 电话" in values
    cells = read_table(content, "x.xlsx").sheets[0].rows[0].cells  # and they read back as typed
    assert (cells["name"], cells["definition"], cells["data_source"]) == ("=1+1", "@SUM(A1)", "+86 电话")


def test_list_cells_survive_separators_inside_items():
    cells = indicator_cells(indicator_data(projects=["改善办学条件、提升质量", "营养餐"], keywords=["甲"]))
    assert cells["projects"] == "改善办学条件、提升质量\n营养餐"
    cells = indicator_cells(indicator_data(basis=[{"kind": "政策文件", "title": "A；B"}, {"kind": "计划标准", "title": "C"}]))
    assert cells["basis_title"] == "A；B\nC" and cells["basis_kind"] == "政策文件；计划标准"


def test_committed_template_is_up_to_date():
    """``kb template import_templates/`` regenerates it; run that after changing the template code."""
    committed = openpyxl.load_workbook(COMMITTED)
    fresh = openpyxl.load_workbook(io.BytesIO(workbook_bytes(build_workbook())))
    assert committed.sheetnames == fresh.sheetnames
    for name in fresh.sheetnames:
        assert [[c.value for c in row] for row in committed[name].iter_rows()] == \
               [[c.value for c in row] for row in fresh[name].iter_rows()], f"{name} differs: regenerate"

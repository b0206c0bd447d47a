"""kb.spreadsheets.selfeval / selfeval_reader: the standard form round-trips, errors are located."""
from __future__ import annotations

import pytest

from kb.errors import ValidationFailed
from kb.spreadsheets.goal_forms import workbook_bytes
from kb.spreadsheets.selfeval import selfeval_workbook
from kb.spreadsheets.selfeval_reader import read_selfeval, score_sheet
from tests.kb.selfeval.builders import EXAMPLE_ROWS, filled_bytes, filled_form


def test_filled_form_reads_back_and_scores_like_the_worked_example():
    sheet = read_selfeval(filled_bytes(), "a.xlsx")
    assert (sheet.year, sheet.project, sheet.department, sheet.implementing_unit) == (2023, "职业技能培训补贴", "县教育局", "县职教中心")
    assert sheet.money == {"年初预算数": "100", "全年预算数": "100", "全年执行数": "95"}
    result, problems = score_sheet(sheet)
    assert problems == []
    assert [row.score for row in result.rows] == [12.0, 12.5, 10.42, 12.5, 15.0, 10.0, 9.44]
    assert (result.total, result.grade) == (91.36, "优")


def test_missing_explanation_and_bad_score_are_located_at_sheet_row_and_column():
    rows = [dict(row) for row in EXAMPLE_ROWS]
    rows[0]["explanation"] = ""  # row 10: 480 of ≥500 not met
    rows[5]["score"] = 13  # row 15: 部分达成 band is 9–12 of 15
    sheet = read_selfeval(filled_bytes(rows=rows), "a.xlsx")
    _, problems = score_sheet(sheet)
    located = {(p.source, p.entry, p.field) for p in problems}
    assert located == {("自评表", "第 10 行", "H 列（偏差原因分析及改进措施）"), ("自评表", "第 15 行", "G 列（得分）")}
    assert all(p.message for p in problems)


def test_missing_budget_is_located_in_the_money_row():
    sheet = read_selfeval(filled_bytes(budget=None), "a.xlsx")
    _, problems = score_sheet(sheet)
    assert [(p.entry, p.field) for p in problems] == [("第 6 行", "C 列（全年预算数）")]


def test_percent_formatted_numbers_and_merged_levels_are_read():
    form = filled_form()
    workbook = selfeval_workbook(form)
    sheet = workbook.active
    sheet["E14"] = 0.92  # 就业率 typed as a number formatted as a percentage
    sheet["E14"].number_format = "0%"
    sheet["A11"] = None  # 一级指标 written once per group
    read = read_selfeval(workbook_bytes(workbook), "a.xlsx")
    assert read.rows[4].cells["actual"] == "92%"
    assert read.rows[1].cells["level1"] == "产出指标"


def test_a_file_without_the_indicator_header_is_refused():
    from openpyxl import Workbook
    workbook = Workbook()
    workbook.active["A1"] = "随便写的表"
    with pytest.raises(ValidationFailed, match="绩效指标"):
        read_selfeval(workbook_bytes(workbook), "x.xlsx")


def test_formula_text_is_written_as_text():
    data = workbook_bytes(selfeval_workbook(filled_form(project="=HYPERLINK(\"x\")")))
    assert read_selfeval(data, "a.xlsx").project == "=HYPERLINK(\"x\")"


def test_fast_cell_reader_matches_openpyxl():
    from kb.spreadsheets import selfeval_reader

    form = filled_form()
    workbook = selfeval_workbook(form)
    workbook.active["E14"] = 0.92
    workbook.active["E14"].number_format = "0.0%"
    content = workbook_bytes(workbook)
    fast = selfeval_reader._fast_grids(content)
    slow = selfeval_reader._openpyxl_grids(content, "a.xlsx")
    strip = lambda grid: [(n, [v for v in values if v]) for n, values in grid if any(values)]  # noqa: E731
    assert strip(fast[0][1]) == strip(slow[0][1])


def test_shared_strings_and_hidden_sheets(tmp_path):
    import zipfile
    from kb.spreadsheets.xlsx_cells import read_sheets

    main = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    path = tmp_path / "x.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", f'<workbook {main} {rel}><sheets><sheet name="隐藏" sheetId="1" state="hidden" r:id="rId1"/>'
                                            f'<sheet name="表" sheetId="2" r:id="rId2"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                         '<Relationship Id="rId1" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Target="worksheets/sheet2.xml"/></Relationships>')
        archive.writestr("xl/sharedStrings.xml", f'<sst {main}><si><t>三级</t></si><si><r><t>实际</t></r><r><t>完成值</t></r></si></sst>')
        archive.writestr("xl/styles.xml", f'<styleSheet {main}><cellXfs><xf numFmtId="0"/><xf numFmtId="9"/></cellXfs></styleSheet>')
        archive.writestr("xl/worksheets/sheet1.xml", f'<worksheet {main}><sheetData/></worksheet>')
        archive.writestr("xl/worksheets/sheet2.xml", f'<worksheet {main}><sheetData><row r="3"><c r="A3" t="s"><v>0</v></c>'
                         '<c r="C3" t="s"><v>1</v></c><c r="D3" s="1"><v>0.85</v></c><c r="E3" t="str"><f>1+1</f><v>2</v></c></row></sheetData></worksheet>')
    sheets = read_sheets(path.read_bytes(), 100)
    assert [s.title for s in sheets] == ["表"]
    row = sheets[0].rows[3]
    assert (row[1].value, row[3].value, row[4].value, row[4].percent, row[5].value) == ("三级", "实际完成值", 0.85, True, "2")

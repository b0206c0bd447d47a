"""Reading real-looking files: what people do to a form is tolerated, what cannot be read is located."""
from pathlib import Path

import openpyxl
import pytest

from kb.errors import ValidationFailed
from kb.spreadsheets.reader import read_table
from tests.kb.spreadsheets.builders import HEADERS, csv_bytes, filled, soffice_convert, xlsx_bytes


def only_sheet(table):
    assert len(table.sheets) == 1, table.problems
    return table.sheets[0]


def test_header_below_title_rows_and_blank_rows_are_skipped():
    def edit(ws):
        ws.insert_rows(1, 2)
        ws["A1"] = "襄垣县某局绩效指标梳理表"
        ws["A2"] = "填报单位：某局（盖章）"
        ws.insert_rows(6)  # a blank row between data rows
    table = read_table(xlsx_bytes([filled(), filled(三级指标名称="培训合格率")], edit=edit), "f.xlsx")
    sheet = only_sheet(table)
    assert [row.cells["name"] for row in sheet.rows] == ["培训人次", "培训合格率"]
    assert [row.number for row in sheet.rows] == [5, 7]


def test_header_synonyms_full_width_and_marks():
    headers = ["编号", "一级", "二级 指标", "*指标名称", "指标值类型", "计算符号", "年度指标值（数字）", "度量单位",
               "指标内容", "计算方法", "来源类型", "依据文件", "发文字号", "数据来源", "项目名称", "关键字", "说明"]
    rows = [dict(zip(headers, filled().values()))]
    sheet = only_sheet(read_table(xlsx_bytes(rows, headers), "f.xlsx"))
    assert set(sheet.columns) == {"code", "level1", "level2", "name", "nature", "operator", "target", "unit",
                                  "definition", "formula", "basis_kind", "basis_title", "basis_doc_no",
                                  "data_source", "projects", "keywords", "remarks"}
    assert sheet.rows[0].cells["name"] == "培训人次"


def test_unknown_columns_are_ignored_with_a_warning_and_serial_numbers_silently():
    headers = ["序号", *HEADERS, "权重"]
    table = read_table(xlsx_bytes([{**filled(), "序号": 1, "权重": 10}], headers), "f.xlsx")
    assert "code" in only_sheet(table).columns
    assert any("权重" in w.message for w in table.warnings)
    assert not any("序号" in w.message for w in table.warnings)


def test_merged_cells_fill_every_row_they_cover():
    def edit(ws):
        ws.merge_cells("B3:B5")  # 一级指标 merged over three indicators
        ws.merge_cells("C3:C4")
    rows = [filled(三级指标名称=f"指标{i}", 一级指标="产出指标" if i == 0 else None,
                   二级指标="数量指标" if i == 0 else ("时效指标" if i == 2 else None)) for i in range(3)]
    sheet = only_sheet(read_table(xlsx_bytes(rows, edit=edit), "f.xlsx"))
    assert [(r.cells["level1"], r.cells["level2"]) for r in sheet.rows] == [
        ("产出指标", "数量指标"), ("产出指标", "数量指标"), ("产出指标", "时效指标")]


def test_levels_written_once_per_group_are_filled_down():
    rows = [filled(三级指标名称="甲"), filled(三级指标名称="乙", 一级指标="", 二级指标=""),
            filled(三级指标名称="丙", 一级指标="效益指标", 二级指标="社会效益指标"), filled(三级指标名称="丁", 一级指标="", 二级指标="")]
    sheet = only_sheet(read_table(xlsx_bytes(rows), "f.xlsx"))
    assert [r.cells["level2"] for r in sheet.rows] == ["数量指标", "数量指标", "社会效益指标", "社会效益指标"]


def test_hidden_columns_and_rows_are_read_and_mentioned():
    def edit(ws):
        ws.column_dimensions["A"].hidden = True
        ws.row_dimensions[4].hidden = True
    table = read_table(xlsx_bytes([filled(指标编码="T-1"), filled(指标编码="T-2")], edit=edit), "f.xlsx")
    assert [r.cells["code"] for r in only_sheet(table).rows] == ["T-1", "T-2"]
    assert any("隐藏列" in w.message and "指标编码" in w.message for w in table.warnings)
    assert any("隐藏行" in w.message and "4" in w.message for w in table.warnings)


def test_percent_formatted_numbers_and_numbers_as_text():
    def edit(ws):
        ws["G3"].number_format = "0%"
    rows = [filled(指标值=0.95, 计量单位=""), filled(指标值="300", 指标编码=1001)]
    sheet = only_sheet(read_table(xlsx_bytes(rows, edit=edit), "f.xlsx"))
    assert sheet.rows[0].cells["target"] == "95" and "target" in sheet.rows[0].percent
    assert sheet.rows[1].cells["target"] == "300" and sheet.rows[1].cells["code"] == "1001"


def test_signature_lines_under_the_table_are_not_indicators():
    def edit(ws):
        ws.append([])
        ws.append(["填表人：张三", None, None, "联系电话：0355-1234567"])
    table = read_table(xlsx_bytes([filled()], edit=edit), "f.xlsx")
    assert len(only_sheet(table).rows) == 1
    assert any("落款" in w.message for w in table.warnings)


def test_formula_cells_use_the_cached_value(tmp_path: Path):
    # openpyxl cannot calculate, so the cached value comes from LibreOffice recalculating and saving.
    path = tmp_path / "formula.xlsx"
    path.write_bytes(xlsx_bytes([filled(指标值="=100*3", 三级指标名称='="培训"&"人次"')]))
    converted = soffice_convert(path, "xlsx:Calc MS Excel 2007 XML", tmp_path / "out")
    table = read_table(converted.read_bytes(), "formula.xlsx")
    row = only_sheet(table).rows[0]
    assert row.cells["target"] == "300" and row.cells["name"] == "培训人次"
    assert any("公式" in w.message for w in table.warnings)


def test_formula_without_cached_value_is_a_located_problem():
    table = read_table(xlsx_bytes([filled(指标值="=SUM(1,2)")]), "f.xlsx")
    assert len(table.problems) == 1
    problem = table.problems[0]
    assert (problem.source, problem.entry) == ("指标梳理表", "第 3 行")
    assert "G3" in problem.message and "没有保存计算结果" in problem.message and "选择性粘贴" in problem.message


def test_error_values_are_located_problems():
    def edit(ws):
        ws["G3"].value = "#DIV/0!"
        ws["G3"].data_type = "e"
    table = read_table(xlsx_bytes([filled()], edit=edit), "f.xlsx")
    assert any("#DIV/0!" in p.message and p.entry == "第 3 行" for p in table.problems)


def test_no_header_found():
    table = read_table(xlsx_bytes([{"甲": 1}], headers=["甲", "乙", "丙"]), "f.xlsx")
    assert "没有找到指标表头" in table.problems[0].message


def test_several_indicator_sheets_are_all_read_and_instructions_skipped():
    workbook = openpyxl.Workbook()
    workbook.active.title = "填表说明"
    workbook.active.append(HEADERS)  # headers listed in the instructions must not count
    for title, name in (("产出", "甲"), ("效益", "乙")):
        sheet = workbook.create_sheet(title)
        sheet.append(HEADERS)
        sheet.append(list(filled(三级指标名称=name).values()))
    hidden = workbook.create_sheet("旧表")
    hidden.sheet_state = "hidden"
    import io
    stream = io.BytesIO()
    workbook.save(stream)
    table = read_table(stream.getvalue(), "f.xlsx")
    assert [(s.name, s.rows[0].cells["name"]) for s in table.sheets] == [("产出", "甲"), ("效益", "乙")]
    assert any(w.source == "旧表" and "隐藏的工作表" in w.message for w in table.warnings)


def test_row_limit(monkeypatch):
    from kb.spreadsheets import reader
    monkeypatch.setattr(reader, "MAX_ROWS", 3)
    with pytest.raises(ValidationFailed) as caught:
        read_table(xlsx_bytes([filled()] * 4), "f.xlsx")
    assert "超过单次导入上限 3 行" in caught.value.problems[0].message


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_encodings(encoding):
    rows = [filled(三级指标名称="学生资助政策覆盖率", 指标值="≥95%", 计量单位="")]
    table = read_table(csv_bytes(rows, encoding, delimiter="\t" if encoding == "utf-16" else ","), "表.csv")
    assert only_sheet(table).rows[0].cells["name"] == "学生资助政策覆盖率"
    assert table.encoding == {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gbk": "GB18030", "gb18030": "GB18030",
                              "utf-16": "UTF-16"}[encoding]


def test_gb18030_only_characters():
    # 𠀀 (U+20000) is outside GBK; GB18030 encodes it in four bytes.
    table = read_table(csv_bytes([filled(三级指标名称="𠀀指标")], "gb18030"), "表.csv")
    assert only_sheet(table).rows[0].cells["name"] == "𠀀指标"


def test_csv_row_with_too_many_cells_is_located():
    content = csv_bytes([filled()], "utf-8") + ("," * 17 + "多出来的,内容\n").encode()
    table = read_table(content, "表.csv")
    assert any(p.entry == "第 3 行" and "多出" in p.message for p in table.problems)


def test_csv_with_embedded_newlines_in_quotes():
    table = read_table(csv_bytes([filled(指标解释="第一行\n第二行")], "utf-8"), "表.csv")
    assert only_sheet(table).rows[0].cells["definition"] == "第一行\n第二行"


def test_csv_semicolon_separated():
    table = read_table(csv_bytes([filled()], "utf-8", delimiter=";"), "表.csv")
    assert only_sheet(table).rows[0].cells["name"] == "培训人次"


def test_oversized_csv_field_is_a_problem():
    table = read_table(csv_bytes([filled(指标解释="长" * 70_000)], "utf-8"), "表.csv")
    assert any("过长" in p.message for p in table.problems)


def test_checklist_sheet_is_read():
    from kb.spreadsheets.template import build_workbook, workbook_bytes

    workbook = build_workbook()
    workbook["资料清单"]["D3"] = "已提供"
    table = read_table(workbook_bytes(workbook), "模版.xlsx")
    assert table.checklist[0].name == "三定方案" and table.checklist[0].status == "已提供"
    assert table.checklist[1].status == "未提供"


def test_workbook_saved_by_libreoffice(tmp_path: Path):
    path = tmp_path / "lo.xlsx"
    path.write_bytes(xlsx_bytes([filled(), filled(三级指标名称="培训合格率", 指标值="≥95%", 计量单位="")]))
    converted = soffice_convert(path, "xlsx:Calc MS Excel 2007 XML", tmp_path / "out")
    sheet = only_sheet(read_table(converted.read_bytes(), "lo.xlsx"))
    assert [r.cells["name"] for r in sheet.rows] == ["培训人次", "培训合格率"]


def test_gbk_csv_converted_by_libreoffice(tmp_path: Path):
    # LibreOffice reading a GBK CSV (as Excel on Chinese Windows writes it) and saving xlsx.
    path = tmp_path / "gbk.csv"
    path.write_bytes(csv_bytes([filled(三级指标名称="义务教育巩固率")], "gbk"))
    converted = soffice_convert(path, "xlsx:Calc MS Excel 2007 XML", tmp_path / "out", infilter="CSV:44,34,67")  # 67 = RTL_TEXTENCODING_GBK
    sheet = only_sheet(read_table(converted.read_bytes(), "gbk.xlsx"))
    assert sheet.rows[0].cells["name"] == "义务教育巩固率"


def _handmade_workbook(sheet_xml: str, shared: list[str]) -> bytes:
    """A workbook written XML by XML the way Excel and WPS write them (shared strings with rich-text
    runs, cached formula results, WPS's KSO custom properties) — openpyxl never writes these."""
    import io
    import zipfile

    items = "".join(f"<si>{item}</si>" for item in shared)
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/docProps/custom.xml" ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/></Relationships>',
        "docProps/custom.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="KSOProductBuildVer"><vt:lpwstr>2052-12.1.0.16120</vt:lpwstr></property></Properties>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        "xl/sharedStrings.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(shared)}" uniqueCount="{len(shared)}">{items}</sst>',
        "xl/worksheets/sheet1.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + sheet_xml + "</sheetData></worksheet>",
    }
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return stream.getvalue()


def test_excel_and_wps_style_xml():
    headers = ["三级指标名称", "一级指标", "二级指标", "指标值", "计量单位"]
    shared = [f"<t>{h}</t>" for h in headers] + [
        '<r><rPr><b/></rPr><t>学生资助</t></r><r><t>覆盖率</t></r>',  # rich text: part of it bold
        "<t>产出指标</t>", "<t>质量指标</t>", "<t xml:space=\"preserve\"> 95 </t>", "<t>%</t>",
    ]
    header = "".join(f'<c r="{col}1" t="s"><v>{i}</v></c>' for i, col in enumerate("ABCDE"))
    row2 = ('<c r="A2" t="s"><v>5</v></c><c r="B2" t="s"><v>6</v></c><c r="C2" t="s"><v>7</v></c>'
            '<c r="D2" t="s"><v>8</v></c><c r="E2" t="s"><v>9</v></c>')
    row3 = ('<c r="A3" t="str"><f>A2&amp;"（高中）"</f><v>学生资助覆盖率（高中）</v></c><c r="B3" t="s"><v>6</v></c>'
            '<c r="C3" t="s"><v>7</v></c><c r="D3"><f>90+5</f><v>95</v></c><c r="E3" t="s"><v>9</v></c>')
    content = _handmade_workbook(f'<row r="1">{header}</row><row r="2">{row2}</row><row r="3">{row3}</row>', shared)
    table = read_table(content, "wps.xlsx")
    rows = only_sheet(table).rows
    assert [(r.cells["name"], r.cells["target"]) for r in rows] == [("学生资助覆盖率", " 95 "), ("学生资助覆盖率（高中）", "95")]
    assert any("公式" in w.message for w in table.warnings)

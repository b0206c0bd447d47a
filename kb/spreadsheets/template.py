"""The 《分部门绩效指标体系梳理模版》 workbook, generated from the column table and ``kb.vocab``.

Sheets: 填表说明 (instructions), 指标梳理表 (one row per 三级指标, dropdowns for the controlled
columns, frozen header, example rows or a department's current set), 资料清单 (《绩效指标梳理资料
清单》: what the department provides) and a hidden 选项 sheet holding the longer dropdown lists.
Every text cell is written as text and neutralised against formula injection.
"""
from __future__ import annotations

import io
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from kb import vocab
from kb.spreadsheets.columns import COLUMNS, DEPARTMENT_COLUMN, STATE_LABELS, Column
from kb.spreadsheets.values import neutralize, number_text, split_basis, split_list

TEMPLATE_TITLE = "分部门绩效指标体系梳理模版"
INDICATOR_SHEET = "指标梳理表"
CHECKLIST_TITLE = "绩效指标梳理资料清单"
OPTIONS_SHEET = "选项"
VALIDATION_ROWS = 2000
HEADER_ROW = 2
FIRST_DATA_ROW = 3
CHECKLIST_ITEMS = (
    ("三定方案", "部门职能配置、内设机构和人员编制规定（最新版本）"),
    ("部门预算项目清单", "近三年预算项目名称、资金规模、主要内容"),
    ("政策文件", "国家、省、市、县与本部门职能和项目有关的政策文件、管理办法"),
    ("行业标准", "行业标准、技术规范、服务标准、定额标准"),
    ("历史数据", "近三年相关指标的实际完成值、统计报表、台账"),
    ("中长期规划和年度计划", "部门发展规划、年度工作计划、重点任务清单"),
    ("项目实施方案", "主要项目的实施方案、可行性研究报告、资金测算依据"),
    ("以往绩效资料", "以往的绩效目标申报表、绩效自评表、绩效评价报告"),
    ("其他资料", "其他有助于设置指标和指标值的资料"),
)
CHECKLIST_STATUSES = ("已提供", "未提供")
EXAMPLES = (
    {"code": "示例1", "level1": "产出指标", "level2": "质量指标", "name": "学生资助政策覆盖率", "nature": "定量",
     "operator": "≥", "target": "100", "unit": "%", "definition": "符合条件的家庭经济困难学生获得资助的比例。",
     "formula": "获得资助学生数 ÷ 符合资助条件学生数 × 100%",
     "basis": [{"kind": "政策文件", "title": "学生资助资金管理办法", "doc_no": "财教〔2021〕310号"}],
     "data_source": "学生资助管理信息系统", "projects": ["学生资助"], "keywords": ["助学金", "资助"],
     "remarks": "【示例行，导入时自动跳过，可删除】"},
    {"code": "示例2", "level1": "满意度指标", "level2": "服务对象满意度指标", "name": "受助学生满意度", "nature": "定量",
     "operator": "≥", "target": "90", "unit": "%", "definition": "抽样调查受助学生对资助工作的满意程度。",
     "formula": "满意人数 ÷ 调查人数 × 100%", "basis": [{"kind": "历史标准", "title": "近三年满意度调查结果"}],
     "data_source": "满意度调查问卷", "remarks": "【示例行，导入时自动跳过，可删除】"},
    {"code": "示例3", "level1": "效益指标", "level2": "社会效益指标", "name": "因贫失学辍学情况", "nature": "定性",
     "operator": "定性", "target": "有效防止", "unit": "", "definition": "家庭经济困难学生因贫失学辍学得到有效防止。",
     "basis": [{"kind": "三定方案", "title": "县教育局职能配置、内设机构和人员编制规定"}],
     "data_source": "控辍保学台账", "remarks": "【示例行，导入时自动跳过，可删除】"},
)

_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
_EXAMPLE_FONT = Font(italic=True, color="808080")
_TITLE_FONT = Font(bold=True, size=14)
_WRAP = Alignment(wrap_text=True, vertical="top")


def put(worksheet: Worksheet, row: int, column: int, value: Any):
    """Write a cell: text is neutralised and forced to a string cell, numbers stay numbers."""
    cell = worksheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = neutralize(value)
        cell.data_type = "s"  # openpyxl would otherwise store text starting with = as a formula
    else:
        cell.value = value
    return cell


def indicator_cells(data: dict[str, Any]) -> dict[str, Any]:
    """An indicator in its YAML form → the template's cell values by column key."""
    basis = data.get("basis") or []
    return {
        "code": data.get("code", ""),
        "level1": data.get("level1", ""),
        "level2": data.get("level2", ""),
        "name": data.get("name", ""),
        "nature": data.get("nature", ""),
        "operator": data.get("operator", ""),
        "target": _target_cell(data),
        "unit": data.get("unit", ""),
        "definition": data.get("definition", ""),
        "formula": data.get("formula", ""),
        "basis_kind": join_items([b["kind"] for b in basis], "；"),
        "basis_title": join_items([b["title"] for b in basis], "；"),
        "basis_doc_no": join_items([b.get("doc_no", "") for b in basis], "；") if any(b.get("doc_no") for b in basis) else "",
        "data_source": data.get("data_source", ""),
        "projects": join_items(data.get("projects") or [], "、"),
        "keywords": join_items(data.get("keywords") or [], "、"),
        "remarks": data.get("remarks", ""),
        "evidence": data.get("evidence", ""),
        "state": STATE_LABELS.get(data.get("state", "active"), ""),
    }


def join_items(items: list[str], separator: str) -> str:
    """Items on one line; on separate lines (Alt+Enter) when an item itself holds a separator
    outside brackets (the import splits such a cell by lines only)."""
    if len(items) > 1 and any(len(split_list(item)) > 1 or len(split_basis(item)) > 1 for item in items):
        return "\n".join(items)
    return separator.join(items)


def _target_cell(data: dict[str, Any]) -> Any:
    """定量 targets as numbers when the number reads back as the same text (95, 0.5), else text."""
    target = data.get("target", "")
    if data.get("nature") != vocab.Nature.QUANTITATIVE:
        return target
    try:
        number = Decimal(target)
    except (InvalidOperation, TypeError):
        return target
    if number_text(number) != target:
        return target
    return int(number) if number == number.to_integral_value() and abs(number) < 10**15 else float(number)


def build_workbook(
    indicators: Iterable[dict[str, Any]] | None = None,
    *,
    department: tuple[str, str] | None = None,
    departments: dict[str, str] | None = None,
) -> Workbook:
    """The template; with ``indicators`` pre-filled (no examples). ``departments`` (indicator code →
    所属部门 label) adds the 所属部门 column used by whole-library exports."""
    workbook = Workbook()
    instructions = workbook.active
    instructions.title = "填表说明"
    sheet = workbook.create_sheet(INDICATOR_SHEET)
    checklist = workbook.create_sheet("资料清单")
    options = workbook.create_sheet(OPTIONS_SHEET)
    options.sheet_state = "hidden"
    columns = ((DEPARTMENT_COLUMN,) if departments is not None else ()) + COLUMNS
    _options_sheet(options)
    rows = list(indicators) if indicators is not None else None
    _indicator_sheet(sheet, columns, rows, department, departments)
    _instructions(instructions, department)
    _checklist(checklist, department)
    workbook.active = 1
    workbook.properties.creator = "襄垣县预算绩效指标库"
    workbook.properties.title = TEMPLATE_TITLE
    return workbook


def workbook_bytes(workbook: Workbook) -> bytes:
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def _options_sheet(options: Worksheet) -> None:
    taxonomy = vocab.taxonomy()
    lists = {
        "一级指标": list(taxonomy.level1_names()),
        "二级指标": [level2 for level2s in taxonomy.levels.values() for level2 in level2s],
        "计量单位": list(vocab.units().units),
        "指标来源类型": [kind.value for kind in vocab.BasisKind],
    }
    for column, (title, values) in enumerate(lists.items(), start=1):
        put(options, 1, column, title)
        for row, value in enumerate(values, start=2):
            put(options, row, column, value)


def _option_range(column: int, count: int) -> str:
    letter = get_column_letter(column)
    return f"'{OPTIONS_SHEET}'!${letter}$2:${letter}${count + 1}"


def _indicator_sheet(sheet, columns: tuple[Column, ...], rows, department, departments) -> None:
    title = f"{TEMPLATE_TITLE}（{department[1]}）" if department else TEMPLATE_TITLE
    put(sheet, 1, 1, title).font = _TITLE_FONT
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(columns))
    sheet.row_dimensions[1].height = 28
    for position, column in enumerate(columns, start=1):
        cell = put(sheet, HEADER_ROW, position, column.header)
        cell.font = Font(bold=True)
        cell.fill = _REQUIRED_FILL if column.required else _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = _BORDER
        cell.comment = Comment(("【必填】" if column.required else "") + column.help, "指标库")
        sheet.column_dimensions[get_column_letter(position)].width = column.width
    sheet.row_dimensions[HEADER_ROW].height = 30
    examples = rows is None
    for offset, data in enumerate(EXAMPLES if examples else rows):
        values = indicator_cells(data)
        if departments is not None:
            values["department"] = departments.get(data["code"], "")
        for position, column in enumerate(columns, start=1):
            cell = put(sheet, FIRST_DATA_ROW + offset, position, values.get(column.key, ""))
            cell.alignment = _WRAP
            if examples:
                cell.font = _EXAMPLE_FONT
    sheet.freeze_panes = sheet.cell(row=FIRST_DATA_ROW, column=[c.key for c in columns].index("name") + 2)
    _validations(sheet, columns)
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(columns))}{HEADER_ROW}"


def _validations(sheet: Worksheet, columns: tuple[Column, ...]) -> None:
    taxonomy = vocab.taxonomy()
    level2_count = sum(len(level2s) for level2s in taxonomy.levels.values())
    specs = {
        "level1": (_option_range(1, len(taxonomy.level1_names())), "stop", "请从下拉列表中选择一级指标。"),
        "level2": (_option_range(2, level2_count), "stop", "请从下拉列表中选择二级指标（须属于所选一级指标）。"),
        "nature": ('"定量,定性"', "stop", "指标性质只能是“定量”或“定性”。"),
        "operator": ('"≥,≤,=,>,<,定性"', "warning", "定量指标填 ≥ ≤ = > <，定性指标填“定性”。"),
        "unit": (_option_range(3, len(vocab.units().units)), "information", "该单位不在常用单位中，请确认写法。"),
        "basis_kind": (_option_range(4, len(vocab.BasisKind)), "warning", "来源类型为：政策文件、行业标准、历史标准、计划标准、三定方案、其他；多个用“；”分隔。"),
        "state": ('"在用,已出库"', "stop", "状态只能是“在用”或“已出库”。"),
    }
    keys = [column.key for column in columns]
    for key, (formula, style, message) in specs.items():
        if key not in keys:
            continue
        letter = get_column_letter(keys.index(key) + 1)
        validation = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=True,
                                    errorStyle=style, error=message, errorTitle="请检查", showDropDown=False)
        validation.add(f"{letter}{FIRST_DATA_ROW}:{letter}{FIRST_DATA_ROW + VALIDATION_ROWS}")
        sheet.add_data_validation(validation)


def _instructions(sheet: Worksheet, department) -> None:
    lines = [
        (f"《{TEMPLATE_TITLE}》填表说明", _TITLE_FONT),
        (f"填报部门：{department[0]} {department[1]}" if department else "填报部门：请在指标库中下载本部门的模版（已带出本部门现有指标）。", None),
        ("一、在“指标梳理表”中每行填写一个三级指标；红色表头为必填列，鼠标停在表头上可看到说明。", None),
        ("二、一级指标、二级指标、指标性质、指标方向、计量单位、指标来源类型可从下拉列表选择。同一组的一级/二级指标可只填第一行或合并单元格。", None),
        ("三、指标值可以直接写成“≥95%”“≤30天”，系统会自动拆分为指标方向、数值和单位；定性指标的指标值写等级表述（如“达到预期”）。", None),
        ("四、修改已有指标时请保留其指标编码；新增指标的编码可留空，导入时自动分配。文件中没有出现的已有指标保持不变，不会被删除。", None),
        ("五、以“示例”开头编码的灰色行是示例，导入时自动跳过。表格上方的标题、表格下方的落款（填表人、联系电话）不影响导入。", None),
        ("六、请保存为 .xlsx（或 CSV）后，在指标库“导入梳理模版”页面上传：系统先逐行检查并列出全部问题（工作表、行、列、原因、改法），"
         "再预览将新增、修改（逐项对比）和保持不变的指标，确认后才一次性全部写入；有任何问题则一条也不写入。", None),
        ("七、请同时填写“资料清单”工作表，说明各项资料是否已提供。不要使用宏、外部链接或公式（公式按保存时的计算结果读取）。", None),
        ("", None),
        ("各列说明", Font(bold=True, size=12)),
    ]
    for row, (text, font) in enumerate(lines, start=1):
        cell = put(sheet, row, 1, text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if font:
            cell.font = font
        if row > 2 and text:
            sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=4)
            sheet.row_dimensions[row].height = 32
    row = len(lines) + 1
    for position, title in enumerate(("列名", "是否必填", "填写说明", "示例"), start=1):
        cell = put(sheet, row, position, title)
        cell.font, cell.fill, cell.border = Font(bold=True), _HEADER_FILL, _BORDER
    example = indicator_cells(EXAMPLES[0])
    for column in COLUMNS:
        row += 1
        for position, value in enumerate(
            (column.header, "必填" if column.required else "选填", column.help, str(example.get(column.key, ""))), start=1
        ):
            cell = put(sheet, row, position, value)
            cell.alignment, cell.border = _WRAP, _BORDER
    row += 2
    put(sheet, row, 1, "一级指标与二级指标的对应关系").font = Font(bold=True, size=12)
    for level1, level2s in vocab.taxonomy().levels.items():
        row += 1
        put(sheet, row, 1, level1)
        put(sheet, row, 2, "、".join(level2s)).alignment = _WRAP
        sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=4)
    for letter, width in zip("ABCD", (16, 10, 70, 36)):
        sheet.column_dimensions[letter].width = width


def _checklist(sheet: Worksheet, department) -> None:
    put(sheet, 1, 1, f"{CHECKLIST_TITLE}（{department[1]}）" if department else CHECKLIST_TITLE).font = _TITLE_FONT
    sheet.merge_cells("A1:F1")
    headers = ("序号", "资料名称", "资料说明", "是否提供", "文件名称或份数", "备注")
    for position, header in enumerate(headers, start=1):
        cell = put(sheet, 2, position, header)
        cell.font, cell.fill, cell.border = Font(bold=True), _HEADER_FILL, _BORDER
    for offset, (name, description) in enumerate(CHECKLIST_ITEMS):
        row = 3 + offset
        for position, value in enumerate((offset + 1, name, description, "未提供", "", ""), start=1):
            cell = put(sheet, row, position, value)
            cell.alignment, cell.border = _WRAP, _BORDER
    validation = DataValidation(type="list", formula1='"' + ",".join(CHECKLIST_STATUSES) + '"', allow_blank=True,
                                showErrorMessage=True, error="请选择“已提供”或“未提供”。", errorTitle="请检查")
    validation.add(f"D3:D{3 + len(CHECKLIST_ITEMS) + 20}")
    sheet.add_data_validation(validation)
    for letter, width in zip("ABCDEF", (6, 22, 48, 10, 28, 20)):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A3"

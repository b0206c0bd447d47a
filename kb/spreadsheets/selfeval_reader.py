"""Reading a filled 项目支出绩效自评表 (``.xlsx``) and scoring it, with every problem located.

The parts are found by their labels (项目名称, 全年预算数, 三级指标 …), so title lines, extra indicator
rows and merged cells do not matter. Uploads pass :func:`kb.spreadsheets.safety.check_upload` first
(size, zip bombs, macros, old ``.xls``); formulas count with the value Excel/WPS saved. Nothing here
touches the database: :mod:`kb.services.selfeval` stores what this returns.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field

import openpyxl
from openpyxl.utils import get_column_letter

from kb.errors import Problem, ValidationFailed
from kb.selfeval import scoring
from kb.selfeval.scoring import RowInput, ScoreResult, TableInput
from kb.spreadsheets.safety import SAVE_AS_XLSX, check_upload
from kb.spreadsheets.values import cell_text, clean_name, clean_text, squeeze
from kb.spreadsheets.xlsx_cells import Cell, UnreadableWorkbook, read_sheets

YEAR = re.compile(r"(20\d{2})\s*年")
MAX_SEARCH_ROWS = 40
MAX_INDICATOR_ROWS = 500
END_WORDS = ("总分", "合计", "评价等级", "说明", "填表人", "填报人", "联系电话", "单位负责人")
# Header → key of the indicator table (the standard names first, then what people write instead).
INDICATOR_COLUMNS = {
    "一级指标": "level1", "二级指标": "level2", "三级指标": "name", "三级指标名称": "name",
    "年度指标值": "target", "指标值": "target", "年度目标值": "target", "预期指标值": "target",
    "实际完成值": "actual", "全年实际值": "actual", "实际值": "actual", "全年实际完成值": "actual",
    "分值": "weight", "权重": "weight", "得分": "score",
    "偏差原因分析及改进措施": "explanation", "偏差原因分析": "explanation", "未完成原因分析": "explanation",
    "未完成原因和改进措施": "explanation", "偏差原因及改进措施": "explanation", "指标编码": "code", "编码": "code",
}
HEADERS = {"level1": "一级指标", "level2": "二级指标", "name": "三级指标", "target": "年度指标值", "actual": "实际完成值",
           "weight": "分值", "score": "得分", "explanation": "偏差原因分析及改进措施", "code": "指标编码"}
ISSUE_KEYS = {header: key for key, header in HEADERS.items()}


@dataclass
class SheetRow:
    number: int
    cells: dict[str, str]


@dataclass
class SelfEvaluationSheet:
    """What a 自评表 says, with the cell positions needed to locate problems."""

    filename: str
    sheet: str
    year: int | None = None
    project: str = ""
    department: str = ""
    implementing_unit: str = ""
    money: dict[str, str] = field(default_factory=dict)  # 年初预算数/全年预算数/全年执行数 → text
    money_cells: dict[str, tuple[int, int]] = field(default_factory=dict)
    expected_objective: str = ""
    achieved_objective: str = ""
    columns: dict[str, int] = field(default_factory=dict)  # indicator key → column number
    header_row: int = 0
    rows: list[SheetRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def table_input(self) -> TableInput:
        return TableInput(
            budget=self.money.get("全年预算数", ""), executed=self.money.get("全年执行数", ""),
            initial_budget=self.money.get("年初预算数", ""),
            rows=[RowInput(name=row.cells.get("name", ""), level1=row.cells.get("level1", ""),
                           level2=row.cells.get("level2", ""), target=row.cells.get("target", ""),
                           actual=row.cells.get("actual", ""), weight=row.cells.get("weight", ""),
                           entered_score=row.cells.get("score", ""), explanation=row.cells.get("explanation", ""))
                  for row in self.rows],
        )

    def locate(self, row: int, column: int | None, header: str) -> dict[str, str]:
        place = f"{get_column_letter(column)} 列（{header}）" if column else header
        return {"source": self.sheet, "entry": f"第 {row} 行" if row else "", "field": place}


def read_selfeval(content: bytes, filename: str) -> SelfEvaluationSheet:
    """Read the first sheet holding a 自评表; raise :class:`ValidationFailed` when none can be read."""
    checked = check_upload(content, filename)
    if checked.kind != "xlsx":
        raise ValidationFailed([Problem("自评表须为 Excel 工作簿（.xlsx）。请下载自评表模版填写后上传。", filename)])
    try:
        grids = _fast_grids(content)
    except UnreadableWorkbook:
        grids = _openpyxl_grids(content, filename)
    for title, grid in grids:
        sheet = _parse(grid, filename, title)
        if sheet is not None:
            return sheet
    raise ValidationFailed([Problem(
        "没有找到自评表的“绩效指标”表头（一级指标、三级指标、实际完成值等列）。请使用下载的自评表模版填写，不要删除表头。", filename)])


def _fast_grids(content: bytes) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    grids = []
    for sheet in read_sheets(content, MAX_SEARCH_ROWS + MAX_INDICATOR_ROWS):
        grid = []
        for number in sorted(sheet.rows):
            cells = sheet.rows[number]
            values = [""] * max(cells)
            for column, cell in cells.items():
                values[column - 1] = _text(cell)
            grid.append((number, values))
        grids.append((sheet.title, grid))
    return grids


def _openpyxl_grids(content: bytes, filename: str) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's notes about dropped WPS extensions do not matter
            workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on broken files
        raise ValidationFailed([Problem("文件已损坏或不是标准的 Excel 工作簿，无法读取。" + SAVE_AS_XLSX, filename)]) from None
    try:
        return [(worksheet.title, [(number, [_text(cell) for cell in cells]) for number, cells in enumerate(
                    worksheet.iter_rows(max_row=MAX_SEARCH_ROWS + MAX_INDICATOR_ROWS), start=1)])
                for worksheet in workbook.worksheets if worksheet.sheet_state == "visible"]
    finally:
        workbook.close()


def _text(cell) -> str:
    value = getattr(cell, "value", None)
    shown = cell.percent if isinstance(cell, Cell) else "%" in (getattr(cell, "number_format", "") or "")
    percent = isinstance(value, (int, float)) and not isinstance(value, bool) and shown
    text = cell_text(value, percent)
    return f"{text}%" if percent else text


def _parse(grid: list[tuple[int, list[str]]], filename: str, title: str) -> SelfEvaluationSheet | None:
    header_at = next((i for i, (_, values) in enumerate(grid[:MAX_SEARCH_ROWS + 20])
                      if {"name", "actual"} <= {INDICATOR_COLUMNS.get(squeeze(v)) for v in values}), None)
    if header_at is None:
        return None
    sheet = SelfEvaluationSheet(filename, title)
    header_number, header_values = grid[header_at]
    sheet.header_row = header_number
    for position, value in enumerate(header_values, start=1):
        key = INDICATOR_COLUMNS.get(squeeze(value))
        if key and key not in sheet.columns:
            sheet.columns[key] = position
    _read_top(sheet, grid[:header_at])
    _read_rows(sheet, grid[header_at + 1:])
    return sheet


def _after(values: list[str], position: int) -> str:
    return next((clean_name(v) for v in values[position + 1:] if v.strip()), "")


def _read_top(sheet: SelfEvaluationSheet, grid: list[tuple[int, list[str]]]) -> None:
    for index, (number, values) in enumerate(grid):
        words = [squeeze(v) for v in values]
        for position, word in enumerate(words):
            if sheet.year is None and (match := YEAR.search(word)):
                sheet.year = int(match.group(1))
            if word in ("项目名称",) and not sheet.project:
                sheet.project = _after(values, position)
            elif word.startswith("主管部门") and not sheet.department:
                sheet.department = _after(values, position)
            elif word == "实施单位" and not sheet.implementing_unit:
                sheet.implementing_unit = _after(values, position)
        if "全年预算数" in words and index + 1 < len(grid):
            value_number, value_row = grid[index + 1]
            for label in ("年初预算数", "全年预算数", "全年执行数"):
                if label in words:
                    column = words.index(label)
                    sheet.money[label] = squeeze(value_row[column]) if column < len(value_row) else ""
                    sheet.money_cells[label] = (value_number, column + 1)
        if "预期目标" in words and index + 1 < len(grid):
            value_row = grid[index + 1][1]
            for label, attribute in (("预期目标", "expected_objective"), ("实际完成情况", "achieved_objective")):
                if label in words and words.index(label) < len(value_row):
                    setattr(sheet, attribute, clean_text(value_row[words.index(label)]))
    place = {"source": sheet.sheet, "entry": "表头"}
    if not sheet.project:
        sheet.problems.append(Problem("请在“项目名称”右侧填写项目名称。", field="项目名称", **place))
    if not sheet.department:
        sheet.problems.append(Problem("请在“主管部门”右侧填写部门名称或编码。", field="主管部门", **place))
    if sheet.year is None:
        sheet.problems.append(Problem("没有找到评价年度，请在标题下一行写明“（2024年度）”。", field="年度", **place))
    if "全年预算数" not in sheet.money_cells:
        sheet.problems.append(Problem("没有找到“项目资金”部分（年初预算数、全年预算数、全年执行数）。请使用自评表模版。",
                                      field="项目资金", **place))


def _read_rows(sheet: SelfEvaluationSheet, grid: list[tuple[int, list[str]]]) -> None:
    previous: dict[str, str] = {}
    for number, values in grid:
        first = next((squeeze(v) for v in values if v.strip()), "")
        if first.startswith(END_WORDS):
            break
        cells = {key: clean_text(values[position - 1]) if position - 1 < len(values) else ""
                 for key, position in sheet.columns.items()}
        if not any(cells.values()):
            continue
        # 一级/二级 merged over a group: an empty cell means "same as above".
        for key in ("level1", "level2"):
            if not cells.get(key) and previous.get(key):
                cells[key] = previous[key]
        previous = cells
        sheet.rows.append(SheetRow(number, cells))
        if len(sheet.rows) > MAX_INDICATOR_ROWS:
            sheet.problems.append(Problem(f"绩效指标超过 {MAX_INDICATOR_ROWS} 行，请检查是否误填。", sheet.sheet))
            break


def score_sheet(sheet: SelfEvaluationSheet) -> tuple[ScoreResult, list[Problem]]:
    """Score the sheet; return the result and every error located at sheet, row and column."""
    result = scoring.score_table(sheet.table_input())
    problems = list(sheet.problems)
    for row, scored in zip(sheet.rows, result.rows):
        for issue in scored.problems:
            key = ISSUE_KEYS.get(issue.column, "")
            problems.append(Problem(issue.message, **sheet.locate(row.number, sheet.columns.get(key), issue.column)))
    for issue in result.execution.problems:
        row, column = sheet.money_cells.get(issue.column, (0, None))
        if sheet.money_cells:  # without the 项目资金 part the reading problem above already says so
            problems.append(Problem(issue.message, **sheet.locate(row, column, issue.column)))
    for issue in result.problems:
        key = ISSUE_KEYS.get(issue.column, "")
        problems.append(Problem(issue.message, **sheet.locate(sheet.header_row, sheet.columns.get(key), issue.column)))
    return result, problems


def row_location(sheet: SelfEvaluationSheet, index: int) -> str:
    """``第 12 行`` of the ``index``-th indicator row (for notes shown next to a score)."""
    return f"第 {sheet.rows[index].number} 行"

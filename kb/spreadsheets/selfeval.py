"""The standard 项目支出绩效自评表 as an Excel workbook (layout of domain.md §9.1), to fill in and print.

One sheet, ten columns (A–J). The reader (:mod:`kb.spreadsheets.selfeval_reader`) finds the parts by
their labels, not by fixed rows, so a department may add indicator rows or a title line. Column J
(指标编码) is ours: pre-filled from the project's goal so actual values flow back to the library's
indicators; tables without it are read too.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from kb.spreadsheets.values import neutralize

TITLE = "项目支出绩效自评表"
SHEET_TITLE = "自评表"
FONT_NAME = "宋体"
COLUMN_WIDTHS = (12, 13, 26, 14, 14, 9, 9, 30, 12, 12)  # A–J
MONEY_HEADERS = ("年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分")
INDICATOR_HEADERS = ("一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分",
                     "偏差原因分析及改进措施", "指标编码")
QUALITATIVE_CHOICES = ("达成年度指标", "部分达成并具有一定效果", "未达成且效果较差")
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="center")
CENTER = Alignment(wrap_text=True, vertical="center", horizontal="center")


def selfeval_workbook(form: Mapping[str, Any], blank_rows: int = 0) -> Workbook:
    """A workbook with the 自评表 of ``form``.

    ``form`` = ``{"year", "project", "department", "implementing_unit", "initial_budget", "budget",
    "executed", "expected_objective", "achieved_objective", "rows": [{"level1", "level2", "name",
    "target", "actual", "weight", "score", "explanation", "code"}]}``; missing values stay empty for
    the department to fill. ``blank_rows`` empty indicator rows are added below the given ones.
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLE
    write_selfeval(sheet, form, blank_rows)
    return workbook


def write_selfeval(sheet: Worksheet, form: Mapping[str, Any], blank_rows: int = 0) -> None:
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    put = _Putter(sheet)
    put.row(1, [(1, TITLE)], bold=True, size=16, merge=(1, 10), border=False)
    put.row(2, [(1, f"（{form.get('year') or '    '}年度）")], merge=(1, 10), border=False)
    put.row(3, [(1, "项目名称"), (2, form.get("project", ""))], merge=(2, 10))
    put.row(4, [(1, "主管部门"), (2, form.get("department", "")), (6, "实施单位"), (7, form.get("implementing_unit", ""))],
            merges=((2, 5), (7, 10)))
    put.row(5, [(1, "项目资金（万元）")] + [(column, header) for column, header in enumerate(MONEY_HEADERS, start=2)],
            bold=True, merges=((7, 10),))
    put.row(6, [(1, "年度资金总额"), (2, form.get("initial_budget")), (3, form.get("budget")), (4, form.get("executed")),
                (5, 10), (6, form.get("execution_rate")), (7, form.get("execution_score"))], merges=((7, 10),))
    put.row(7, [(1, "年度总体目标"), (2, "预期目标"), (6, "实际完成情况")], bold=True, merges=((2, 5), (6, 10)))
    put.row(8, [(1, ""), (2, form.get("expected_objective", "")), (6, form.get("achieved_objective", ""))],
            merges=((2, 5), (6, 10)), height=60)
    put.row(9, list(enumerate(INDICATOR_HEADERS, start=1)), bold=True)
    number = 9
    rows = list(form.get("rows") or []) + [{}] * blank_rows
    for row in rows:
        number += 1
        put.row(number, list(enumerate((row.get("level1"), row.get("level2"), row.get("name"), row.get("target"),
                                        row.get("actual"), row.get("weight"), row.get("score"), row.get("explanation"),
                                        row.get("code")), start=1)))
    grades = DataValidation(type="list", formula1='"' + ",".join(QUALITATIVE_CHOICES) + '"', allow_blank=True,
                            showErrorMessage=False)  # a suggestion list for 定性 rows; numbers stay allowed
    sheet.add_data_validation(grades)
    if number > 9:
        grades.add(f"E10:E{number}")
    put.row(number + 1, [(1, "总分"), (7, form.get("total"))], bold=True, merges=((1, 6),))
    put.row(number + 2, [(1, "评价等级"), (7, form.get("grade"))], bold=True, merges=((1, 6),))
    put.row(number + 3, [(1, "说明：定量指标填写实际完成值即可（系统按规则计分）；定性指标在“实际完成值”选择档次并在"
                             "“得分”填写档次区间内的分数；未达成年度指标值的，须填写偏差原因分析及改进措施。分值留空按默认"
                             "权重计算（产出 50、效益 30、满意度 10）。")], merge=(1, 10), border=False, height=45)
    sheet.print_title_rows = "9:9"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToHeight = 0


class _Putter:
    def __init__(self, sheet: Worksheet) -> None:
        self.sheet = sheet

    def row(self, number: int, cells: Iterable[tuple[int, Any]], *, bold: bool = False, size: int = 11,
            merge: tuple[int, int] | None = None, merges: Iterable[tuple[int, int]] = (), border: bool = True,
            height: int | None = None) -> None:
        for column, value in cells:
            cell = self.sheet.cell(row=number, column=column, value=_safe(value))
            if isinstance(value, str):
                cell.data_type = "s"  # text never becomes a formula
            cell.font = Font(name=FONT_NAME, bold=bold or column == 1, size=size)
            cell.alignment = CENTER if column != 8 and column != 3 else WRAP
        spans = ([merge] if merge else []) + list(merges)
        for first, last in spans:
            self.sheet.merge_cells(start_row=number, start_column=first, end_row=number, end_column=last)
        if border:
            for column in range(1, 11):
                self.sheet.cell(row=number, column=column).border = BORDER
        if height:
            self.sheet.row_dimensions[number].height = height


def _safe(value: Any) -> Any:
    if value is None:
        return None
    return neutralize(value) if isinstance(value, str) else value

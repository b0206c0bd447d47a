"""The standard 项目支出绩效目标申报表 as an Excel workbook (layout of domain.md §7.1), ready to print.

Works on the plain form of a goal (``kb.services.goals.goal_to_dict`` or the frozen copy of an
approved goal), so what is printed is exactly what was checked and approved.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.merge import MergedCellRange
from openpyxl.worksheet.worksheet import Worksheet

from kb import vocab
from kb.characters import scrub
from kb.models.goal import GoalStatus
from kb.vocab import Role

FONT_NAME = "宋体"  # present on every Windows/WPS desk in the county
COLUMN_WIDTHS = (11, 13, 30, 10, 9, 24, 12, 14)  # A–H
TABLE_HEADERS = ("一级指标", "二级指标", "三级指标", "指标值", "计量单位", "指标值设定依据", "指标来源", "备注")
ROLE_OPINIONS = ((Role.EXPERT, "专家评审意见"), (Role.FINANCE, "财政部门审核意见"))
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="center")
CENTER = Alignment(wrap_text=True, vertical="center", horizontal="center")
INVALID_TITLE = re.compile(r"[\\/*?:\[\]\r\n\t]")


def goal_form_workbook(goal: Mapping[str, Any]) -> Workbook:
    """A workbook with one sheet: the 申报表 of ``goal``."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _sheet_title(goal["project"]["name"], set())
    write_goal_form(sheet, goal)
    return workbook


def department_workbook(goals: Iterable[Mapping[str, Any]], department_name: str, year: int) -> Workbook:
    """Every goal of a department for a year: a 目录 sheet, then one 申报表 sheet per project."""
    goals = list(goals)
    workbook = Workbook()
    index = workbook.active
    index.title = "目录"
    _write_index(index, goals, department_name, year)
    titles: set[str] = {"目录"}
    for goal in goals:
        title = _sheet_title(goal["project"]["name"], titles)
        titles.add(title)
        write_goal_form(workbook.create_sheet(title), goal)
    return workbook


def workbook_bytes(workbook: Workbook) -> bytes:
    """The workbook as ``.xlsx`` bytes (for a download)."""
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def write_goal_form(sheet: Worksheet, goal: Mapping[str, Any]) -> None:
    """Fill ``sheet`` with the 申报表 of ``goal`` and set it up for A4 printing."""
    project = goal["project"]
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    writer = _Writer(sheet)
    writer.title("项目支出绩效目标申报表", size=16)
    writer.line(f"（{project['year']}年度）", align=CENTER)
    writer.header_line(f"填报单位（盖章）：{project['department']['name']}", "金额单位：万元")
    writer.section("一、项目基本信息")
    writer.pairs(("项目名称", project["name"]), ("项目属性", project.get("kind", "")))
    writer.pairs(("主管部门及编码", f"{project['department']['name']}（{project['department']['code']}）"),
                 ("实施单位", project.get("implementing_unit") or project["department"]["name"]))
    writer.pairs(("项目类别", project.get("category", "")), ("项目期限", project.get("period", "")))
    writer.pairs(("项目负责人及电话", project.get("contact", "")), ("填报状态", _status_label(goal)))
    writer.section("二、项目资金情况（万元）")
    amount, fiscal = project.get("amount"), project.get("fiscal_amount")
    other = amount - fiscal if isinstance(amount, (int, float)) and isinstance(fiscal, (int, float)) else None
    writer.money(amount, fiscal, other)
    writer.section("三、项目概况")
    writer.block("立项依据及实施内容", project.get("description", ""), height=90)
    writer.section("四、绩效目标")
    writer.block("总体目标（实施期）", goal.get("long_term_objective", ""), height=60)
    writer.block("年度目标", goal.get("annual_objective", ""), height=60)
    writer.section("五、年度绩效指标")
    header_row = writer.table_header(TABLE_HEADERS)
    writer.indicator_rows(ordered_rows(goal.get("rows", [])))
    writer.section("六、审核意见")
    writer.opinion("主管部门意见", _department_opinion(goal))
    for role, label in ROLE_OPINIONS:
        writer.opinion(label, _review_opinion(goal, role))
    _page_setup(sheet, header_row)


def ordered_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Rows grouped by level1/level2 in the taxonomy's order (stable inside a group)."""
    levels = vocab.taxonomy().levels
    level1_order = {name: i for i, name in enumerate(levels)}

    def key(item):
        position, row = item
        level2_order = {name: i for i, name in enumerate(levels.get(row.get("level1"), ()))}
        return level1_order.get(row.get("level1"), 99), level2_order.get(row.get("level2"), 99), position

    return [row for _, row in sorted(enumerate(rows), key=key)]


def target_text(row: Mapping[str, Any]) -> str:
    """The 指标值 as printed: ``≥90`` for 定量, the grade text for 定性."""
    if row.get("nature") == vocab.Nature.QUALITATIVE or row.get("operator") == vocab.QUALITATIVE_OPERATOR:
        return row.get("target") or ""
    return f"{row.get('operator') or ''}{row.get('target') or ''}"


def _status_label(goal: Mapping[str, Any]) -> str:
    try:
        return GoalStatus(goal.get("status", "draft")).label
    except ValueError:
        return ""


def _department_opinion(goal: Mapping[str, Any]) -> str:
    if goal.get("status") in ("submitted", "approved"):
        return "经审核，同意申报。"
    return ""


def _review_opinion(goal: Mapping[str, Any], role: Role) -> str:
    # Reviews written by an administrator before it lost goal reviews (kb.permissions) read as finance's.
    roles = {Role.FINANCE.value, Role.ADMIN.value} if role is Role.FINANCE else {role.value}
    reviews = [r for r in goal.get("reviews", []) if r.get("role") in roles]
    if not reviews:
        return ""
    latest_round = max(r.get("round", 0) for r in reviews)
    return "\n".join(
        f"审核结论：{r['verdict']}。{r.get('summary') or ''}（{r.get('reviewer', '')}）"
        for r in reviews if r.get("round", 0) == latest_round
    )


def _sheet_title(name: str, taken: set[str]) -> str:
    base = INVALID_TITLE.sub("", scrub(name)).strip()[:28] or "申报表"
    title, counter = base, 2
    while title in taken:
        title, counter = f"{base[:25]}（{counter}）", counter + 1
    return title


def _write_index(sheet: Worksheet, goals: list[Mapping[str, Any]], department_name: str, year: int) -> None:
    headers = ("序号", "项目名称", "项目属性", "资金总额（万元）", "指标个数", "状态")
    for index, width in enumerate((6, 40, 10, 16, 10, 16), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    writer = _Writer(sheet, columns=len(headers))
    writer.title(f"{department_name} {year}年度项目支出绩效目标申报表目录", size=14)
    writer.table_header(headers)
    for number, goal in enumerate(goals, start=1):
        project = goal["project"]
        writer.cells((number, project["name"], project.get("kind", ""), project.get("amount"),
                      len(goal.get("rows", [])), _status_label(goal)))
    _page_setup(sheet, None)


def _page_setup(sheet: Worksheet, header_row: int | None) -> None:
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.5
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    if header_row:
        sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页"


def _merge(sheet: Worksheet, first_row: int, first_column: int, last_row: int, last_column: int) -> None:
    """Register a merged range without openpyxl's per-merge restyling of the edge cells, which made a
    department's workbook take seconds; our cells already carry their borders."""
    sheet.merged_cells.add(MergedCellRange(sheet, f"{get_column_letter(first_column)}{first_row}:"
                                                  f"{get_column_letter(last_column)}{last_row}"))


def _safe(value: Any) -> Any:
    # Scrubbed: a control character stored in a name must not make the whole export fail (item 5).
    return "" if value is None else scrub(value) if isinstance(value, str) else value


class _Writer:
    """Writes the form top to bottom, one row at a time, across ``columns`` columns."""

    def __init__(self, sheet: Worksheet, columns: int = len(COLUMN_WIDTHS)) -> None:
        self.sheet, self.columns, self.row = sheet, columns, 0

    def _cell(self, column: int, value: Any, *, bold: bool = False, size: int = 11, align=WRAP, border=True):
        cell = self.sheet.cell(row=self.row, column=column, value=_safe(value))
        if isinstance(value, str):
            cell.data_type = "s"  # text starting with = + - @ stays text, never a formula (STYLE.md)
        cell.font = Font(name=FONT_NAME, bold=bold, size=size)
        cell.alignment = align
        if border:
            cell.border = BORDER
        return cell

    def _merge(self, first: int, last: int, bordered: bool = True) -> None:
        if last > first:
            _merge(self.sheet, self.row, first, self.row, last)
        if bordered:
            for column in range(first + 1, last + 1):
                self.sheet.cell(row=self.row, column=column).border = BORDER

    def title(self, text: str, size: int) -> None:
        self.row += 1
        self._cell(1, text, bold=True, size=size, align=CENTER, border=False)
        self._merge(1, self.columns, bordered=False)
        self.sheet.row_dimensions[self.row].height = 30

    def line(self, text: str, align=WRAP) -> None:
        self.row += 1
        self._cell(1, text, align=align, border=False)
        self._merge(1, self.columns, bordered=False)

    def header_line(self, left: str, right: str) -> None:
        self.row += 1
        self._cell(1, left, border=False)
        self._merge(1, 5, bordered=False)
        self._cell(6, right, border=False, align=Alignment(horizontal="right", vertical="center"))
        self._merge(6, self.columns, bordered=False)

    def section(self, text: str) -> None:
        self.row += 1
        self._cell(1, text, bold=True)
        self._merge(1, self.columns)

    def pairs(self, left: tuple[str, Any], right: tuple[str, Any]) -> None:
        self.row += 1
        self._cell(1, left[0], bold=True, align=CENTER)
        self._cell(2, left[1])
        self._merge(2, 4)
        self._cell(5, right[0], bold=True, align=CENTER)
        self._merge(5, 6)
        self._cell(7, right[1])
        self._merge(7, self.columns)

    def money(self, amount, fiscal, other) -> None:
        self.row += 1
        labels = (("资金总额", amount, 1, 2), ("其中：财政拨款", fiscal, 3, 4), ("其他资金", other, 5, 6))
        for label, value, first, _ in labels:
            self._cell(first, label, bold=True, align=CENTER)
            self._cell(first + 1, value, align=CENTER).number_format = "0.00"
        self._cell(7, "", align=CENTER)
        self._merge(7, self.columns)

    def block(self, label: str, text: str, height: int) -> None:
        self.row += 1
        self._cell(1, label, bold=True, align=CENTER)
        self._cell(2, text)
        self._merge(2, self.columns)
        lines = max(1, len(text or "") // 60 + (text or "").count("\n") + 1)
        self.sheet.row_dimensions[self.row].height = max(height, 15 * lines)

    def table_header(self, headers: Iterable[str]) -> int:
        self.row += 1
        for column, header in enumerate(headers, start=1):
            self._cell(column, header, bold=True, align=CENTER)
        return self.row

    def cells(self, values: Iterable[Any]) -> None:
        self.row += 1
        for column, value in enumerate(values, start=1):
            self._cell(column, value, align=CENTER if column != 2 else WRAP)

    def indicator_rows(self, rows: list[Mapping[str, Any]]) -> None:
        first_row = self.row + 1
        for row in rows:
            self.row += 1
            values = (row.get("level1"), row.get("level2"), row.get("name"), target_text(row), row.get("unit"),
                      row.get("basis_note"), row.get("code") or "部门自拟", row.get("remarks"))
            for column, value in enumerate(values, start=1):
                self._cell(column, value, align=CENTER if column in (1, 2, 4, 5, 7) else WRAP)
        self._merge_runs(first_row, 1, rows, lambda r: r.get("level1"))
        self._merge_runs(first_row, 2, rows, lambda r: (r.get("level1"), r.get("level2")))

    def _merge_runs(self, first_row: int, column: int, rows, key) -> None:
        """Merge consecutive equal level cells vertically, as printed forms do."""
        start = 0
        for index in range(1, len(rows) + 1):
            if index == len(rows) or key(rows[index]) != key(rows[start]):
                if index - start > 1:
                    _merge(self.sheet, first_row + start, column, first_row + index - 1, column)
                start = index

    def opinion(self, label: str, text: str) -> None:
        self.row += 1
        self._cell(1, label, bold=True, align=CENTER)
        body = (text + "\n\n" if text else "\n\n") + "（签章）                年    月    日"
        self._cell(2, body, align=Alignment(wrap_text=True, vertical="top"))
        self._merge(2, self.columns)
        self.sheet.row_dimensions[self.row].height = 70

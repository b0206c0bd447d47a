"""Reading a filled-in 梳理模版 (``.xlsx`` from Excel, WPS or LibreOffice, or ``.csv``) into rows.

Tolerant of what people do to a form: title rows above the header, merged cells, blank rows,
hidden columns, header synonyms, 一级/二级 written only on the first row of a group, signature
lines under the table, numbers stored as text, formulas (their cached values). Everything that
cannot be read is reported as a located :class:`~kb.errors.Problem`; nothing here touches the
database.
"""
from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field

import openpyxl
from defusedxml import DefusedXmlException

from kb.errors import Problem, ValidationFailed
from kb.spreadsheets import columns as cols
from kb.spreadsheets.safety import MAX_COLUMNS, MAX_CSV_FIELD, MAX_ROWS, SAVE_AS_XLSX, check_upload
from kb.spreadsheets.values import cell_text, clean_name

HEADER_SEARCH_ROWS = 30
MIN_HEADER_MATCHES = 3
INSTRUCTION_SHEETS = ("填表说明", "说明", "选项")
CHECKLIST_SHEET = "资料清单"
_SIGNATURE = re.compile(r"^(填表人|填报人|联系人|联系电话|电话|审核人|负责人|单位负责人|部门负责人|填报日期|填表日期|制表|日期)")


@dataclass
class SheetRow:
    """One data row: ``cells`` maps column keys to their text; ``percent`` names cells shown as 95%."""

    number: int
    cells: dict[str, str]
    percent: frozenset[str] = frozenset()


@dataclass
class Sheet:
    name: str
    columns: dict[str, str]  # key → header as written in the file
    rows: list[SheetRow]

    def header(self, key: str) -> str:
        return self.columns.get(key) or cols.BY_KEY[key].header

    def has_field(self, field: str) -> bool:
        """Whether a column for schema ``field`` is present (``basis`` is written in the basis_* columns)."""
        if field == "basis":
            return any(key.startswith("basis_") for key in self.columns)
        return field in self.columns


@dataclass(frozen=True)
class ChecklistItem:
    name: str
    status: str  # 已提供 | 未提供 | ""
    note: str


@dataclass
class Table:
    """What a file holds: indicator sheets, the 资料清单, and what was noticed on the way."""

    filename: str
    kind: str
    encoding: str = ""
    sheets: list[Sheet] = field(default_factory=list)
    checklist: list[ChecklistItem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(len(sheet.rows) for sheet in self.sheets)


@dataclass
class _Grid:
    """A sheet as plain values, before the header is known."""

    name: str
    rows: list[tuple[int, list[object], list[bool]]]  # (row number, values, shown-as-percent flags)
    hidden_columns: set[int] = field(default_factory=set)
    hidden_rows: set[int] = field(default_factory=set)


def read_table(content: bytes, filename: str) -> Table:
    """Read an uploaded file; raise :class:`ValidationFailed` when it cannot be read at all."""
    checked = check_upload(content, filename)
    table = Table(filename=filename, kind=checked.kind, encoding=checked.encoding)
    grids = _xlsx_grids(content, table) if checked.kind == "xlsx" else [_csv_grid(checked.text, table)]
    for grid in grids:
        if CHECKLIST_SHEET in grid.name:
            table.checklist = _checklist(grid)
            continue
        sheet = _sheet(grid, table)
        if sheet is not None:
            table.sheets.append(sheet)
    if not table.sheets and not table.problems:
        table.problems.append(Problem(
            "没有找到指标表头。请保留模版中的表头行（至少包含“三级指标名称”“一级指标”“二级指标”等列），"
            "不要删除或改名；可重新下载模版对照。", filename,
        ))
    if table.row_count > MAX_ROWS:
        raise ValidationFailed([Problem(f"共有 {table.row_count} 行数据，超过单次导入上限 {MAX_ROWS} 行，请拆分成几个文件分别导入。", filename)])
    return table


# ---------------------------------------------------------------- xlsx

def _xlsx_grids(content: bytes, table: Table) -> list[_Grid]:
    workbook = _open(content, table.filename, data_only=False)
    grids, formulas = [], {}
    for worksheet in workbook.worksheets:
        title = worksheet.title
        if title.strip() in INSTRUCTION_SHEETS:
            continue
        if worksheet.sheet_state != "visible":
            table.warnings.append(Problem("隐藏的工作表未读取；如其中有要导入的指标，请取消隐藏后再导入。", title))
            continue
        grid, sheet_formulas = _worksheet_grid(worksheet, table)
        grids.append(grid)
        if sheet_formulas:
            formulas[title] = sheet_formulas
    if formulas:
        _apply_cached_values(content, table, grids, formulas)
    return grids


def _open(content: bytes, source: str, data_only: bool):
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (WPS extensions, slicers…); they do not matter here.
            warnings.simplefilter("ignore")
            return openpyxl.load_workbook(io.BytesIO(content), data_only=data_only, keep_links=False)
    except Exception as error:  # openpyxl raises many kinds (KeyError, ValueError, zipfile errors) on broken files
        if _caused_by(error, DefusedXmlException):
            message = "文件中含有不安全的 XML 结构（实体定义），可能是恶意构造的文件，已拒绝。"
        else:
            message = "文件已损坏或不是标准的 Excel 工作簿，无法读取。"
        raise ValidationFailed([Problem(message + SAVE_AS_XLSX, source)]) from None


def _caused_by(error: BaseException | None, kind: type) -> bool:
    """openpyxl wraps parser errors in ValueError; look along the chain."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, kind):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def _used_range(worksheet) -> tuple[int, int]:
    # openpyxl's max_row/max_column count formatted empty cells (a whole column coloured reaches
    # row 1 048 576); the last cell holding a value is what matters. No public API gives it.
    last_row = last_column = 0
    for (row, column), cell in worksheet._cells.items():  # noqa: SLF001 - see comment above
        if cell.value is not None:
            last_row, last_column = max(last_row, row), max(last_column, column)
    return last_row, last_column


def _worksheet_grid(worksheet, table: Table) -> tuple[_Grid, dict[tuple[int, int], object]]:
    title = worksheet.title
    last_row, last_column = _used_range(worksheet)
    last_row = min(last_row, MAX_ROWS + HEADER_SEARCH_ROWS + 1)
    last_column = min(last_column, MAX_COLUMNS + 1)
    merged: dict[tuple[int, int], object] = {}
    for merged_range in worksheet.merged_cells.ranges:
        top_left = worksheet._cells.get((merged_range.min_row, merged_range.min_col))  # noqa: SLF001
        value = top_left.value if top_left is not None else None
        for row in range(merged_range.min_row, min(merged_range.max_row, last_row) + 1):
            for column in range(merged_range.min_col, min(merged_range.max_col, last_column) + 1):
                merged[(row, column)] = value
    grid = _Grid(title, [])
    formulas: dict[tuple[int, int], object] = {}
    if last_row == 0:
        return grid, formulas
    for cells in worksheet.iter_rows(min_row=1, max_row=last_row, max_col=last_column):
        values, percent = [], []
        for cell in cells:
            position = (cell.row, cell.column)
            value = merged[position] if position in merged else cell.value
            if cell.data_type == "f" and position not in merged:
                formulas[position] = value
            elif cell.data_type == "e":
                table.problems.append(Problem(
                    f"单元格显示错误值 {value}，请改正公式或直接填写内容。", title, f"第 {cell.row} 行", cell.coordinate
                ))
                value = None
            values.append(value)
            percent.append(isinstance(value, (int, float)) and "%" in (cell.number_format or ""))
        grid.rows.append((cells[0].row, values, percent))
    for dimension in worksheet.column_dimensions.values():
        if dimension.hidden:
            grid.hidden_columns.update(range(dimension.min or 0, (dimension.max or 0) + 1))
    grid.hidden_rows = {number for number, dimension in worksheet.row_dimensions.items() if dimension.hidden}
    return grid, formulas


def _apply_cached_values(content: bytes, table: Table, grids: list[_Grid], formulas: dict) -> None:
    """Formulas count with the value Excel/WPS saved; a formula without one cannot be trusted."""
    cached_book = _open(content, table.filename, data_only=True)
    for grid in grids:
        positions = formulas.get(grid.name)
        if not positions:
            continue
        cached_sheet = cached_book[grid.name]
        by_row = {number: index for index, (number, _, _) in enumerate(grid.rows)}
        for (row, column), formula in positions.items():
            cached = cached_sheet.cell(row=row, column=column)
            values = grid.rows[by_row[row]][1]
            where = f"{openpyxl.utils.get_column_letter(column)}{row}"
            if cached.data_type == "e":
                table.problems.append(Problem(
                    f"单元格 {where} 的公式结果是错误值 {cached.value}，请改正公式或直接填写内容。", grid.name, f"第 {row} 行",
                ))
                values[column - 1] = None
            elif cached.value is None:
                table.problems.append(Problem(
                    f"单元格 {where} 是公式（{str(formula)[:40]}），文件中没有保存计算结果。请在 Excel/WPS 中打开后保存一次，"
                    "或把该列复制后“选择性粘贴 → 数值”。", grid.name, f"第 {row} 行",
                ))
                values[column - 1] = None
            else:
                values[column - 1] = cached.value
        table.warnings.append(Problem(
            f"有 {len(positions)} 个单元格是公式，已按文件中保存的计算结果读取（请核对预览中的数值）。", grid.name
        ))


# ---------------------------------------------------------------- csv

def _csv_grid(text: str, table: Table) -> _Grid:
    sample = text[:4096]
    delimiter = max(",\t;", key=sample.count) if sample else ","
    grid = _Grid(table.filename, [])
    previous_limit = csv.field_size_limit(MAX_CSV_FIELD)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        for number, record in enumerate(reader, start=1):
            grid.rows.append((number, list(record), [False] * len(record)))
            if number > MAX_ROWS + HEADER_SEARCH_ROWS + 1:
                break
    except csv.Error as error:
        table.problems.append(Problem(
            f"CSV 格式错误（{error}）：请检查该行的引号是否成对、单元格内容是否过长（上限 {MAX_CSV_FIELD // 1024} KB）。",
            table.filename, f"第 {len(grid.rows) + 1} 行",
        ))
    finally:
        csv.field_size_limit(previous_limit)
    return grid


# ---------------------------------------------------------------- header and rows

def _find_header(grid: _Grid) -> tuple[int, dict[int, str]] | None:
    """The index (in ``grid.rows``) of the header row and its column positions → keys."""
    best: tuple[int, dict[int, str]] | None = None
    for index, (_, values, _) in enumerate(grid.rows[:HEADER_SEARCH_ROWS]):
        keys: dict[int, str] = {}
        for position, value in enumerate(values):
            key = cols.column_key(value) if isinstance(value, str) else None
            if key is not None:
                keys[position] = key
        if "name" in keys.values() and len(set(keys.values())) >= MIN_HEADER_MATCHES:
            if best is None or len(set(keys.values())) > len(set(best[1].values())):
                best = (index, keys)
    return best


def _sheet(grid: _Grid, table: Table) -> Sheet | None:
    found = _find_header(grid)
    if found is None:
        return None
    header_index, positions = found
    header_number, header_values, _ = grid.rows[header_index]
    if sum(1 for value in header_values if value not in (None, "")) > MAX_COLUMNS:
        table.problems.append(Problem(f"表头超过 {MAX_COLUMNS} 列，请删除多余的列后再导入。", grid.name, f"第 {header_number} 行"))
        return None
    chosen = _choose_columns(grid, header_values, positions, table)
    sheet = Sheet(grid.name, {key: str(header_values[position]).strip() for position, key in chosen.items()}, [])
    _note_unknown_and_hidden(grid, header_values, chosen, header_number, table)
    skipped_signatures = []
    for number, values, percent in grid.rows[header_index + 1:]:
        if all(value is None or str(value).strip() == "" for value in values):
            continue
        cells = {key: cell_text(values[position] if position < len(values) else None,
                                position < len(percent) and percent[position])
                 for position, key in chosen.items()}
        if _is_signature(values):
            skipped_signatures.append(number)
            continue
        extra = [value for value in values[len(header_values):] if str(value or "").strip()]
        if extra and table.kind == "csv":
            table.problems.append(Problem(
                f"这一行比表头多出 {len(extra)} 个单元格，通常是内容中有未加引号的逗号。请在 Excel/WPS 中打开检查后另存。",
                grid.name, f"第 {number} 行",
            ))
            continue
        if not any(cells.values()):
            continue
        sheet.rows.append(SheetRow(number, cells, frozenset(k for p, k in chosen.items() if p < len(percent) and percent[p])))
    if skipped_signatures:
        table.warnings.append(Problem(
            f"第 {'、'.join(map(str, skipped_signatures))} 行像是落款（填表人、联系电话等），未作为指标读取。", grid.name
        ))
    hidden = sorted(row.number for row in sheet.rows if row.number in grid.hidden_rows)
    if hidden:
        table.warnings.append(Problem(
            f"第 {'、'.join(map(str, hidden[:20]))}{' 等' if len(hidden) > 20 else ''} 行是隐藏行，已照常读取；"
            "如不需要导入，请删除这些行。", grid.name,
        ))
    _fill_down_levels(sheet)
    return sheet


def _choose_columns(grid: _Grid, header_values, positions: dict[int, str], table: Table) -> dict[int, str]:
    """One column per key: the exact template header wins over a synonym, else the first one."""
    chosen: dict[str, int] = {}
    for position, key in positions.items():
        if key not in chosen:
            chosen[key] = position
            continue
        exact = cols.normalize_header(header_values[position]) == cols.normalize_header(cols.BY_KEY[key].header)
        kept, dropped = (position, chosen[key]) if exact else (chosen[key], position)
        chosen[key] = kept
        table.warnings.append(Problem(
            f"“{header_values[dropped]}”列与“{header_values[kept]}”列含义相同，只读取了“{header_values[kept]}”列。", grid.name
        ))
    return {position: key for key, position in sorted(chosen.items(), key=lambda item: item[1])}


def _note_unknown_and_hidden(grid: _Grid, header_values, chosen: dict[int, str], header_number: int, table: Table) -> None:
    unknown = [
        str(value).strip() for position, value in enumerate(header_values)
        if position not in chosen and str(value or "").strip()
        and cols.normalize_header(value) not in cols.IGNORED_HEADERS and cols.column_key(value) is None
    ]
    if unknown:
        table.warnings.append(Problem(f"这些列不是模版中的列，已忽略：{'、'.join(unknown)}。", grid.name, f"第 {header_number} 行"))
    hidden = [str(header_values[p]).strip() for p in chosen if p + 1 in grid.hidden_columns]
    if hidden:
        table.warnings.append(Problem(f"这些列是隐藏列，已照常读取：{'、'.join(hidden)}。", grid.name))


def _is_signature(values) -> bool:
    """落款 lines under a form (填表人：张三  联系电话：…) start with such a word and fill few cells."""
    texts = [str(value).strip() for value in values if value is not None and str(value).strip()]
    return bool(texts) and len(texts) <= 4 and bool(_SIGNATURE.match(texts[0]))


def _fill_down_levels(sheet: Sheet) -> None:
    """一级/二级 are often written once per group (or merged); an empty cell means “same as above”."""
    if "level1" not in sheet.columns:
        return
    previous_level1 = previous_level2 = ""
    for row in sheet.rows:
        level1, level2 = row.cells.get("level1", ""), row.cells.get("level2", "")
        if not level1 and previous_level1:
            row.cells["level1"] = level1 = previous_level1
            if "level2" in row.cells and not level2:
                row.cells["level2"] = level2 = previous_level2
        elif level1 == previous_level1 and "level2" in row.cells and not level2:
            row.cells["level2"] = level2 = previous_level2
        previous_level1, previous_level2 = level1, level2


# ---------------------------------------------------------------- 资料清单

def _checklist(grid: _Grid) -> list[ChecklistItem]:
    header_index = next(
        (i for i, (_, values, _) in enumerate(grid.rows[:HEADER_SEARCH_ROWS])
         if any(cols.normalize_header(v) == "资料名称" for v in values)), None,
    )
    if header_index is None:
        return []
    headers = [cols.normalize_header(v) for v in grid.rows[header_index][1]]

    def position(*names: str) -> int | None:
        return next((headers.index(name) for name in names if name in headers), None)

    name_at, status_at, note_at = position("资料名称"), position("是否提供", "提供情况"), position("备注", "说明")
    items = []
    for _, values, _ in grid.rows[header_index + 1:]:
        name = clean_name(cell_text(values[name_at])) if name_at is not None and name_at < len(values) else ""
        if not name:
            continue
        status = clean_name(cell_text(values[status_at])) if status_at is not None and status_at < len(values) else ""
        note = clean_name(cell_text(values[note_at])) if note_at is not None and note_at < len(values) else ""
        items.append(ChecklistItem(name, status, note))
    return items

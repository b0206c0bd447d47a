"""Budget executed to date, imported in bulk from the Excel the budget system (预算一体化系统) exports.

The file needs a header row with the project name (项目名称; 项目编码 is read when present), the
full-year budget (全年预算数 / 调整后预算数 …) and the amount executed (执行数 / 支出数 …), in 万元
(a header saying 元 is converted). Every row is checked first; one problem and nothing is written,
with a row-numbered Chinese report. Rows for projects outside the round are skipped with a note
(the system exports every project, a round covers only those in its scope).
"""
from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass, field
from decimal import Decimal

import openpyxl

from kb.errors import ImportFailed, InvalidTransition, Problem, ValidationFailed
from kb.models import MonitoringEntry, MonitoringRound
from kb.permissions import can_fill_monitoring
from kb.services.audit import Actor, record_change
from kb.services.monitoring import apply_lights, check_amounts, round_entries, round_rules
from kb.models.base import utcnow
from kb.spreadsheets.safety import MAX_ROWS, SAVE_AS_XLSX, check_upload
from kb.spreadsheets.values import cell_text, clean_name

HEADER_SEARCH_ROWS = 20
_SUMMARY_ROWS = ("合计", "总计", "小计")


@dataclass
class ExecutionImport:
    """What an import changed and what it noticed."""

    updated: int = 0
    skipped: list[Problem] = field(default_factory=list)


def _column_kind(header: str) -> str | None:
    text = "".join(header.split())
    if "执行" in text or "支出" in text:  # before 预算: “预算执行数” is the executed amount
        return "executed"
    if "预算" in text:
        return "budget"
    if "名称" in text or text == "项目":
        return "name"
    if "编码" in text or "代码" in text:
        return "code"
    return None


def _in_yuan(header: str) -> bool:
    return "元" in header and "万元" not in header


def _grid(content: bytes, filename: str) -> list[tuple[int, list[str]]]:
    checked = check_upload(content, filename)
    if checked.kind == "csv":
        return [(number, [cell.strip() for cell in row])
                for number, row in enumerate(csv.reader(io.StringIO(checked.text)), start=1)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl notes features it drops (WPS extensions); irrelevant here
            workbook = openpyxl.load_workbook(io.BytesIO(content), data_only=True, read_only=True, keep_links=False)
    except Exception:  # openpyxl raises many kinds on broken files; the user needs one message
        raise ValidationFailed([Problem("文件已损坏或不是标准的 Excel 工作簿，无法读取。" + SAVE_AS_XLSX, filename)]) from None
    sheet = workbook.worksheets[0]
    rows = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > MAX_ROWS:
            raise ValidationFailed([Problem(f"超过 {MAX_ROWS} 行，请拆分后分别导入。", filename)])
        rows.append((number, [cell_text(value).strip() for value in values]))
    workbook.close()
    return rows


def _header(rows: list[tuple[int, list[str]]]) -> tuple[int, dict[str, int], dict[str, str]] | None:
    for index, (_, values) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        headers: dict[str, str] = {}
        for position, value in enumerate(values):
            kind = _column_kind(value) if value else None
            if kind and kind not in columns:
                columns[kind], headers[kind] = position, value
        if {"name", "budget", "executed"} <= columns.keys():
            return index, columns, headers
    return None


def import_execution(session, actor: Actor, monitoring_round: MonitoringRound, content: bytes,
                     filename: str) -> ExecutionImport:
    """Set budget and executed of the round's projects from the file; all rows or none."""
    if not monitoring_round.is_open:
        raise InvalidTransition(f"监控轮次“{monitoring_round.name}”已经结束，不能再导入。")
    rows = _grid(content, filename)
    found = _header(rows)
    if found is None:
        raise ImportFailed([Problem("没有找到表头：需要“项目名称”“全年预算数”“执行数”三列（项目编码可选）。"
                                    "请使用预算一体化系统导出的执行情况表，不要删除表头行。", filename)])
    header_index, columns, headers = found
    by_name: dict[str, list[MonitoringEntry]] = {}
    for entry in round_entries(session, monitoring_round):
        by_name.setdefault(clean_name(entry.project.name), []).append(entry)
    problems: list[Problem] = []
    result = ExecutionImport()
    planned: dict[int, tuple[MonitoringEntry, float, float, int]] = {}
    for number, values in rows[header_index + 1:]:
        cell = lambda kind: values[columns[kind]] if columns[kind] < len(values) else ""  # noqa: E731
        name = clean_name(cell("name"))
        if not any(values) or (not name and not cell("budget") and not cell("executed")):
            continue
        where = f"第 {number} 行"
        if not name or any(name.startswith(word) for word in _SUMMARY_ROWS):
            if name:
                continue  # a 合计 row of the export
            problems.append(Problem("缺少项目名称。", filename, where, headers["name"]))
            continue
        matches = by_name.get(name, [])
        if not matches:
            result.skipped.append(Problem(f"项目“{name}”不在本轮监控范围内，已跳过。", filename, where))
            continue
        if len(matches) > 1:
            problems.append(Problem(f"本轮有 {len(matches)} 个名为“{name}”的项目（不同部门），无法区分；"
                                    "请在页面上逐个填报。", filename, where, headers["name"]))
            continue
        entry = matches[0]
        if not can_fill_monitoring(actor, monitoring_round, entry.department_id):
            problems.append(Problem(f"项目“{name}”属于{entry.department.name}，部门用户只能导入本部门的项目。",
                                    filename, where, headers["name"]))
            continue
        if entry.id in planned:
            problems.append(Problem(f"项目“{name}”在第 {planned[entry.id][3]} 行已出现过，请删除重复行。",
                                    filename, where, headers["name"]))
            continue
        row_problems: list[Problem] = []
        budget = _scaled(cell("budget"), headers["budget"])
        executed = _scaled(cell("executed"), headers["executed"])
        budget_value, executed_value = check_amounts(budget, executed, where, row_problems)
        problems.extend(Problem(p.message, filename, where, headers.get(p.field, p.field)) for p in row_problems)
        if not row_problems:
            planned[entry.id] = (entry, budget_value, executed_value, number)
    if problems:
        raise ImportFailed(problems, result.skipped)
    rules = round_rules(monitoring_round)
    for entry, budget_value, executed_value, _ in planned.values():
        entry.budget, entry.executed = budget_value, executed_value
        apply_lights(entry, rules)
        entry.filled_by, entry.filled_at = actor.username, entry.filled_at or utcnow()
    result.updated = len(planned)
    session.flush()
    record_change(session, actor, "monitoring.import", "monitoring_round", str(monitoring_round.id),
                  after={"file": filename, "updated": result.updated, "skipped": len(result.skipped)},
                  summary=f"导入监控“{monitoring_round.name}”预算执行数：{filename}（更新 {result.updated} 个项目）")
    return result


def _scaled(text: str, header: str) -> str:
    """An amount in 万元; a column headed in 元 is divided by 10 000 (exactly, as text)."""
    if not _in_yuan(header) or not text:
        return text
    try:
        return str(Decimal(text.replace(",", "")) / Decimal(10000))
    except ArithmeticError:
        return text

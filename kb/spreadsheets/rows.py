"""A spreadsheet row → the fields of the indicator's YAML form (CONTRACT §4).

Only columns present in the file produce fields, so an import can leave the other fields of an
existing indicator alone. Validation proper is :class:`kb.schemas.IndicatorSchema`'s job (one
schema for every channel); this module turns cells into its input and names problems by column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kb import vocab
from kb.errors import Problem
from kb.spreadsheets import columns as cols
from kb.spreadsheets.reader import Sheet, SheetRow
from kb.spreadsheets.values import (
    canonical_basis_kind,
    canonical_operator,
    clean_name,
    clean_text,
    is_placeholder,
    parse_target,
    split_basis,
    split_list,
    squeeze,
)

FREE_TEXT = ("definition", "formula", "data_source", "remarks", "evidence")
BASIS_KEYS = ("basis_kind", "basis_title", "basis_doc_no")
# Schema messages name YAML fields; in a spreadsheet people know the column headers.
_FIELD_WORDS = {"unit": "计量单位", "basis": "指标来源", "state": "状态", "target": "指标值", "operator": "指标方向"}


@dataclass
class RowFields:
    """What one row says: ``fields`` for the schema, plus the department cell and any problems."""

    sheet: Sheet
    row: SheetRow
    fields: dict[str, Any] = field(default_factory=dict)
    department: str | None = None  # the 所属部门 cell, when the column exists
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def entry(self) -> str:
        return f"第 {self.row.number} 行"

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(message, self.sheet.name, self.entry, self.sheet.header(key)))

    def warning(self, key: str, message: str) -> None:
        self.warnings.append(Problem(message, self.sheet.name, self.entry, self.sheet.header(key)))


def row_fields(sheet: Sheet, row: SheetRow) -> RowFields:
    """Turn the cells of ``row`` into indicator fields (normalised, not yet validated)."""
    result = RowFields(sheet, row)
    cells = row.cells
    out = result.fields
    if "code" in cells:
        out["code"] = squeeze(cells["code"])
    if "department" in cells:
        result.department = clean_name(cells["department"])
    for key in ("name", "level1", "level2"):
        if key in cells:
            out[key] = clean_name(cells[key])
    for key in FREE_TEXT:
        if key in cells:
            out[key] = clean_text(cells[key])
    for key in ("projects", "keywords"):
        if key in cells:
            out[key] = split_list(cells[key])
    if "state" in cells and cells["state"].strip():
        state = cols.STATE_ALIASES.get(squeeze(cells["state"]).lower())
        if state is None:
            result.problem("state", f"状态“{cells['state']}”无法识别，请填“在用”或“已出库”，或留空表示不改变。")
        else:
            out["state"] = state
    _nature_operator_target_unit(result)
    if any(key in cells for key in BASIS_KEYS):
        _basis(result)
    _required_blanks(result)
    return result


def _required_blanks(result: RowFields) -> None:
    out = result.fields
    for key in ("name", "level1", "level2", "target"):
        if key in out and not out[key] and not any(p.field == result.sheet.header(key) for p in result.problems):
            hint = ""
            if key == "level1":
                hint = "可选：" + "、".join(vocab.taxonomy().level1_names()) + "。"
            elif key == "level2":
                level1 = vocab.taxonomy().canonical_level1(out.get("level1", ""))
                options = vocab.taxonomy().levels.get(level1)
                hint = f"“{level1}”下可选：{'、'.join(options)}。" if options else "须属于所填的一级指标。"
            elif key == "target":
                hint = "定量指标填数字（如 95），定性指标填等级表述（如“达到预期”）。"
            result.problem(key, f"请填写{result.sheet.header(key)}。{hint}")


def _nature_operator_target_unit(result: RowFields) -> None:
    cells, out = result.row.cells, result.fields
    nature = squeeze(cells.get("nature", "")).removesuffix("指标")
    operator = canonical_operator(cells.get("operator", "")) if "operator" in cells else None
    if operator == "定性指标":
        operator = "定性"
    # Some local forms call the comparison symbol 指标性质 (青神 自评表: 指标性质 “=”).
    if nature and nature not in ("定量", "定性") and canonical_operator(nature) in (*vocab.OPERATORS, "定性"):
        if not operator:
            operator = canonical_operator(nature)
        nature = "定性" if canonical_operator(nature) == "定性" else ""
    unit = vocab.units().canonical(cells["unit"]) if "unit" in cells else None
    if "target" in cells:
        target_text = cells["target"]
        placeholder = is_placeholder(target_text)
        if placeholder:
            result.problem("target", f"指标值还是模版占位符“{target_text}”，请填写实际的目标值。")
        parsed = parse_target(target_text)
        if nature == "定性" or not parsed.is_number:
            out["target"] = clean_text(target_text)
        else:
            out["target"] = parsed.number
            operator = _merge(result, "operator", operator, parsed.operator, target_text)
            shown_percent = "target" in result.row.percent
            unit = _merge(result, "unit", unit, parsed.unit or ("%" if shown_percent else ""), target_text)
        if not nature:
            known_unit = not unit or vocab.units().is_known(unit)
            nature = "定量" if parsed.is_number and known_unit else "定性"
            if "nature" in cells and not placeholder:
                result.warning("nature", f"指标性质未填写，已按指标值判断为“{nature}”，请在预览中核对。")
    if nature:
        out["nature"] = nature
    elif "nature" in cells:
        out["nature"] = ""
    if nature == "定性" and not operator:
        operator = "定性"
    if operator is not None:
        out["operator"] = operator
    if unit is not None:
        out["unit"] = unit
        if unit and out.get("nature") == "定量" and not vocab.units().is_known(unit):
            result.warning("unit", f"计量单位“{unit}”不在单位词表中，已按原样读取；如是笔误请改正（常用：%、人、个、万元、天）。")


def _merge(result: RowFields, key: str, column_value: str | None, from_target: str, target_text: str) -> str | None:
    """The operator/unit written inside the 指标值 cell must agree with its own column."""
    if not from_target:
        return column_value
    if column_value and column_value != from_target:
        header = result.sheet.header(key)
        result.problem(key, f"{header}填的是“{column_value}”，但指标值“{target_text}”中写的是“{from_target}”，"
                            f"两者不一致。请改成一致（或把指标值只写数字）。")
        return column_value
    return from_target


def _basis(result: RowFields) -> None:
    cells = result.row.cells
    kinds = [canonical_basis_kind(kind) for kind in split_basis(cells.get("basis_kind", ""))]
    titles = split_basis(cells.get("basis_title", ""))
    doc_nos = split_basis(cells.get("basis_doc_no", ""), keep_empty=True)
    while doc_nos and not doc_nos[-1]:
        doc_nos.pop()
    count = max(len(kinds), len(titles))
    if len(kinds) == 1 and count > 1:
        kinds = kinds * count
    problems = False
    for kind in kinds:
        if kind not in {k.value for k in vocab.BasisKind}:
            result.problem("basis_kind", f"指标来源类型“{kind}”无法识别，只能是："
                                         f"{'、'.join(k.value for k in vocab.BasisKind)}；文件名称请填在“指标来源文件”列。")
            problems = True
    if titles and not kinds:
        result.problem("basis_kind", "填写了指标来源文件，但没有填写来源类型（政策文件、行业标准、历史标准、计划标准、三定方案、其他）。")
        problems = True
    elif kinds and not titles:
        result.problem("basis_title", "填写了指标来源类型，但没有填写指标来源文件：请填写指标来源文件（文件或标准的名称，"
                                      "如《学生资助资金管理办法》）。")
        problems = True
    elif len(titles) < len(kinds):
        result.problem("basis_title", f"指标来源类型有 {len(kinds)} 项，来源文件只有 {len(titles)} 项。"
                                      "请为每个来源写明文件或标准名称，多个用“；”分隔、一一对应。")
        problems = True
    if len(doc_nos) > count:
        result.problem("basis_doc_no", f"文号有 {len(doc_nos)} 个，多于指标来源文件（{count} 个）。多个文号用“；”分隔，与来源文件一一对应。")
        problems = True
    if problems:
        result.fields["basis"] = None  # reported already; keep the schema from repeating it
        return
    doc_nos += [""] * (count - len(doc_nos))
    result.fields["basis"] = [
        {"kind": kind, "title": title, **({"doc_no": doc_no} if doc_no else {})}
        for kind, title, doc_no in zip(kinds, titles, doc_nos)
    ]


def header_for_field(sheet: Sheet, path: str) -> str:
    """The column header for a schema field path (``basis[1].title`` → 指标来源文件)."""
    if path.startswith("basis"):
        if path.endswith(".title"):
            return sheet.header("basis_title")
        if path.endswith(".doc_no"):
            return sheet.header("basis_doc_no")
        return sheet.header("basis_kind")
    key = path.split(".")[0].split("[")[0]
    return sheet.header(key) if key in cols.BY_KEY else path


def spreadsheet_message(message: str) -> str:
    """A schema message with YAML field names replaced by the column names people see."""
    for word, header in _FIELD_WORDS.items():
        message = re.sub(rf"(?<![A-Za-z_]){word}(?![A-Za-z_])", f"“{header}”", message)
    return message

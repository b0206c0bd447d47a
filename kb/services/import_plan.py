"""Planning an import: every row of a read table checked and compared with the library.

The plan says what would be added, changed (field by field) and left alone; building it writes
nothing. Used by :mod:`kb.services.imports`, which previews, confirms and applies plans.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.errors import ImportFailed, NotFound, PermissionDenied, Problem
from kb.models import Department, Indicator
from kb.permissions import can_import
from kb.permissions import can_add_indicator, can_edit_indicator
from kb.schemas import IndicatorSchema, problems_from
from kb.services.audit import Actor
from kb.spreadsheets import columns as cols
from kb.spreadsheets.reader import ChecklistItem, Table
from kb.spreadsheets.rows import RowFields, header_for_field, row_fields, spreadsheet_message

BASIS_KEYS = ("basis_kind", "basis_title", "basis_doc_no")

FIELD_LABELS = {
    **{column.key: column.header for column in cols.COLUMNS},
    "basis": "指标来源", "state": "状态",
}
COMPARED_FIELDS = (
    "name", "level1", "level2", "nature", "operator", "target", "unit", "definition", "formula", "basis",
    "data_source", "projects", "keywords", "remarks", "evidence", "state",
)
_PENDING_CODE = "NEW-PENDING"
# One instance for every row: building a marshmallow schema deep-copies its fields, which cost
# more than validating a row (5,000-row workbooks, benchmarks/sheets.py).
SCHEMA = IndicatorSchema()
_CODE_NUMBER = re.compile(r"^([A-Za-z]+)-(\d+)$")


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str


@dataclass
class PlannedRow:
    """One row of the file and what importing it does: ``add``, ``change`` or ``same``."""

    action: str
    source: str
    row: int
    code: str
    name: str
    department_code: str | None
    data: dict[str, Any]
    changes: list[FieldChange] = field(default_factory=list)
    code_assigned: bool = False
    after: dict[str, Any] = field(default_factory=dict)  # ``data`` in its YAML/API form


@dataclass
class ImportPlan:
    filename: str
    sha256: str
    department_code: str | None
    rows: list[PlannedRow]
    untouched: list[tuple[str, str]]
    warnings: list[Problem]
    checklist: list[ChecklistItem]
    fingerprint: str = ""
    state: str = ""  # digest of the database state the plan was made from (see imports.library_state)
    actor_key: list[Any] = field(default_factory=list)  # who it was planned for

    def _count(self, action: str) -> list[PlannedRow]:
        return [row for row in self.rows if row.action == action]

    @property
    def added(self) -> list[PlannedRow]:
        return self._count("add")

    @property
    def changed(self) -> list[PlannedRow]:
        return self._count("change")

    @property
    def unchanged(self) -> list[PlannedRow]:
        return self._count("same")


class Planner:
    """Builds an :class:`ImportPlan` from a read table; collects every problem before failing."""

    def __init__(self, session: Session, actor: Actor, table: Table, department_code: str | None, lock: bool) -> None:
        self.session, self.actor, self.table = session, actor, table
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = list(table.warnings)
        self.target = self._target(department_code, lock)
        self.departments = {d.code: d for d in session.scalars(select(Department))}
        self.owners: dict[str, str | None] = dict(session.execute(
            select(Indicator.code, Department.code).outerjoin(Department, Indicator.department_id == Department.id)
        ).all())

    def _target(self, department_code: str | None, lock: bool) -> Department | None:
        if department_code is None:
            if not can_import(self.actor, None):
                raise PermissionDenied("只有财政部门可以一次导入多个部门的指标；请选择本部门后再导入。")
            if not all("department" in sheet.columns for sheet in self.table.sheets):
                raise ImportFailed([Problem("没有指定部门，且表中没有“所属部门”列：请选择要导入的部门，或使用整库导出的表格。",
                                            self.table.filename)], self.warnings)
            return None
        query = select(Department).where(Department.code == department_code)
        department = self.session.scalar(query.with_for_update() if lock else query)
        if department is None:
            raise NotFound(f"部门 {department_code} 不存在，请检查部门编码。")
        if not can_add_indicator(self.actor, department):
            raise PermissionDenied(
                "不能导入到该部门：部门用户只能导入本部门、且指标集处于“部门梳理中”（草稿）状态的指标。"
                "已报送或已审定的指标集请先由财政退回修改。"
            )
        return department

    def plan(self) -> ImportPlan:
        rows = [row_fields(sheet, row) for sheet in self.table.sheets for row in sheet.rows]
        rows = self._drop_examples(rows)
        if not rows:
            raise ImportFailed([Problem("表中没有填写任何指标（示例行不计）。请在“指标梳理表”中从表头下一行开始填写后再导入。",
                                        self.table.filename)], self.warnings)
        scope = self._resolve_departments(rows)
        existing = self._existing(scope)
        self._resolve_codes(rows, existing)
        planned = [p for p in (self._plan_row(r, existing) for r in rows) if p is not None]
        self._assign_codes(planned)
        self.warnings.extend(w for r in rows for w in r.warnings)
        self._warn_duplicate_names(planned)
        if self.problems:
            raise ImportFailed(self.problems, self.warnings)
        in_file = {p.code for p in planned}
        untouched = sorted(
            (i.code, i.name) for i in existing.values()
            if i.code not in in_file and (i.department.code if i.department else None) in scope
        )
        plan = ImportPlan(self.table.filename, "", self.target.code if self.target else None, planned, untouched,
                          self.warnings, self.table.checklist)
        plan.fingerprint = _fingerprint(plan, existing)
        return plan

    def _drop_examples(self, rows: list[RowFields]) -> list[RowFields]:
        examples = [r for r in rows if r.fields.get("code", "").startswith("示例")]
        if examples:
            self.warnings.append(Problem(
                f"跳过了 {len(examples)} 行模版示例（指标编码以“示例”开头）：第 {'、'.join(str(r.row.number) for r in examples)} 行。",
                examples[0].sheet.name,
            ))
        return [r for r in rows if r not in examples]

    def _resolve_departments(self, rows: list[RowFields]) -> set[str | None]:
        """Each row's department code (None: 共性指标); returns the departments the file covers."""
        scope: set[str | None] = set()
        for row in rows:
            if self.target is not None:
                row.department = self._check_same_department(row)
            else:
                row.department = self._department_of(row)
            scope.add(row.department)
        if self.target is not None:
            scope.add(self.target.code)
        return scope

    def _check_same_department(self, row: RowFields) -> str:
        text = row.department
        if text and self._match_department(text) != self.target.code:
            row.problem("department", f"这一行属于“{text}”，不是本次导入的部门“{self.target.code} {self.target.name}”。"
                                      "请删除该行，或分部门导入。")
        return self.target.code

    def _department_of(self, row: RowFields) -> str | None:
        text = row.department or ""
        if not text:
            row.problem("department", "请填写所属部门（部门编码，如 101；共性指标填“共性指标”）。")
            return None
        if text in cols.COMMON_DEPARTMENT_LABELS:
            return None
        code = self._match_department(text)
        if code is None:
            row.problem("department", f"部门“{text}”不存在：请填写部门编码（如 101）或完整的部门名称。")
        return code

    def _match_department(self, text: str) -> str | None:
        token = re.match(r"^([A-Za-z0-9]+)", text)
        if token and token.group(1) in self.departments:
            return token.group(1)
        name = re.sub(r"^[A-Za-z0-9]+\s*", "", text).strip() or text
        return next((code for code, d in self.departments.items() if d.name == name), None)

    def _existing(self, scope: set[str | None]) -> dict[str, Indicator]:
        """The indicators of the departments in scope (with their basis) by code."""
        department_ids = [self.departments[code].id for code in scope if code in self.departments]
        condition = Indicator.department_id.in_(department_ids)
        if None in scope:
            condition = condition | Indicator.department_id.is_(None)
        return {i.code: i for i in self.session.scalars(
            select(Indicator).where(condition).options(
                selectinload(Indicator.basis),
                selectinload(Indicator.department).selectinload(Department.indicator_sets),
            )
        )}

    def _resolve_codes(self, rows: list[RowFields], existing: dict[str, Indicator]) -> None:
        """A row without a code is the existing indicator of the same name, if there is exactly one."""
        by_name: dict[tuple[str | None, str], list[str]] = defaultdict(list)
        for indicator in existing.values():
            by_name[(indicator.department.code if indicator.department else None, indicator.name)].append(indicator.code)
        for row in rows:
            if row.fields.get("code"):
                continue
            matches = by_name.get((row.department, row.fields.get("name", "")), [])
            if len(matches) == 1:
                row.fields["code"] = matches[0]
                row.warning("code", f"指标编码为空，按名称对应到已有指标 {matches[0]}。")
        seen: dict[str, RowFields] = {}
        for row in rows:
            code = row.fields.get("code")
            if not code:
                continue
            if code in seen:
                first = seen[code]
                row.problem("code", f"编码 {code} 与{first.sheet.name if first.sheet is not row.sheet else ''}"
                                    f"第 {first.row.number} 行重复，编码在指标库中必须唯一。请修改其中一行。")
            else:
                seen[code] = row
            owner = self.owners.get(code, row.department)
            if owner != row.department:
                where = f"部门 {owner}" if owner else "共性指标"
                row.problem("code", f"编码 {code} 在库中已属于{where}，不能导入到这里。如是新指标请清空编码（自动分配）或换一个编码。")

    def _plan_row(self, row: RowFields, existing: dict[str, Indicator]) -> PlannedRow | None:
        code = row.fields.get("code") or ""
        indicator = existing.get(code)
        before = SCHEMA.dump(indicator) if indicator is not None else {}
        data = {**before, **row.fields, "code": code or _PENDING_CODE}
        data = {key: value for key, value in data.items() if value is not None}
        try:
            loaded = SCHEMA.load(data)
        except ValidationError as error:
            self._schema_problems(row, error)
            loaded = None
        self.problems.extend(row.problems)
        if loaded is None or row.problems:
            return None
        after = SCHEMA.dump(loaded)
        changes = [
            FieldChange(FIELD_LABELS.get(key, key), _show(before.get(key)), _show(after.get(key)))
            for key in COMPARED_FIELDS if _comparable(before.get(key), key) != _comparable(after.get(key), key)
        ]
        if indicator is None:
            action = "add"
        elif changes:
            action = "change"
            if not can_edit_indicator(self.actor, indicator):
                self.problems.append(Problem(
                    f"指标 {code} 所在的指标集已报送或已审定，不能通过导入修改。请联系财政退回后再改，或删除这一行。",
                    row.sheet.name, row.entry, row.sheet.header("code"),
                ))
                return None
        else:
            action = "same"
        return PlannedRow(action, row.sheet.name, row.row.number, code, loaded["name"], row.department, loaded, changes,
                          code_assigned=not code, after=after)

    def _schema_problems(self, row: RowFields, error: ValidationError) -> None:
        already = {problem.field for problem in row.problems}
        for problem in problems_from(error, row.sheet.name, row.entry):
            if problem.field == "code" and not row.fields.get("code"):
                continue  # a pending code is assigned later
            header = header_for_field(row.sheet, problem.field)
            if header in already or (problem.field.startswith("basis") and already & {row.sheet.header(k) for k in BASIS_KEYS}):
                continue  # the row reader said what is wrong with the source cells already
            message = problem.message
            if message.startswith("缺少必填字段") and not row.sheet.has_field(problem.field):
                message = f"表中没有“{header}”列，新增指标必须填写。请使用最新模版，或补上该列。"
            elif problem.field == "basis" and "至少" not in message:
                message = "请填写指标来源类型和来源文件。"
            row.problems.append(Problem(spreadsheet_message(message), row.sheet.name, row.entry, header))
            already.add(header)

    def _assign_codes(self, planned: list[PlannedRow]) -> None:
        taken = set(self.owners) | {p.code for p in planned}
        counters: dict[str | None, tuple[str, int]] = {}
        for row in planned:
            if not row.code_assigned:
                continue
            if row.department_code not in counters:
                counters[row.department_code] = self._code_series(row.department_code, taken)
            prefix, number = counters[row.department_code]
            while True:
                number += 1
                candidate = f"{prefix}-{number:03d}"
                if candidate not in taken:
                    break
            counters[row.department_code] = (prefix, number)
            taken.add(candidate)
            row.code = candidate
            row.data["code"] = row.after["code"] = candidate

    def _code_series(self, department_code: str | None, taken: set[str]) -> tuple[str, int]:
        """Continue the department's own series (JY-040 → JY-041); ``D<code>`` when it has none."""
        prefixes: Counter[str] = Counter()
        highest: dict[str, int] = defaultdict(int)
        for code, owner in self.owners.items():
            match = _CODE_NUMBER.match(code)
            if owner == department_code and match:
                prefixes[match.group(1)] += 1
                highest[match.group(1)] = max(highest[match.group(1)], int(match.group(2)))
        if prefixes:
            prefix = prefixes.most_common(1)[0][0]
            return prefix, highest[prefix]
        prefix = "GX" if department_code is None else f"D{department_code}"
        numbers = [int(m.group(2)) for c in taken if (m := _CODE_NUMBER.match(c)) and m.group(1) == prefix]
        return prefix, max(numbers, default=0)

    def _warn_duplicate_names(self, planned: list[PlannedRow]) -> None:
        seen: dict[tuple[str | None, str], PlannedRow] = {}
        for row in planned:
            key = (row.department_code, row.name)
            if key in seen:
                self.warnings.append(Problem(
                    f"指标名称“{row.name}”与第 {seen[key].row} 行相同，请确认不是重复录入。", row.source, f"第 {row.row} 行",
                ))
            else:
                seen[key] = row


def _comparable(value: Any, key: str) -> Any:
    if key == "state":
        return value or "active"
    if value in (None, "", []):
        return None
    return value


def _show(value: Any) -> str:
    if value in (None, "", []):
        return ""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "；".join(
            f"{b['kind']}：{b['title']}" + (f"（{b['doc_no']}）" if b.get("doc_no") else "") for b in value
        )
    if isinstance(value, list):
        return "、".join(map(str, value))
    if value in cols.STATE_LABELS:
        return cols.STATE_LABELS[value]
    return str(value)


def _fingerprint(plan: ImportPlan, existing: dict[str, Indicator]) -> str:
    """Changes when the file's effect or any indicator it touches changes (row versions)."""
    payload = [
        [row.action, row.code, row.department_code, row.after,
         existing[row.code].row_version if row.code in existing else None]
        for row in plan.rows
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()

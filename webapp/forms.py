"""Turning submitted HTML forms into the YAML/API shape the schemas validate, and problems back into
messages next to the fields. Only the fields listed here are read (no mass assignment)."""
from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from kb.errors import ValidationFailed

TEXT_FIELDS = ("name", "level1", "level2", "nature", "operator", "target", "unit", "definition", "formula",
               "data_source", "evidence", "remarks")
LIST_FIELDS = ("projects", "keywords")
_SPLIT = re.compile(r"[\n\r,，、;；]+")

FIELD_LABELS = {
    "code": "编码", "name": "指标名称", "level1": "一级指标", "level2": "二级指标", "nature": "指标性质",
    "operator": "指标方向", "target": "指标值", "unit": "计量单位", "definition": "指标解释",
    "formula": "计算公式", "basis": "指标来源", "data_source": "数据来源", "projects": "适用项目",
    "keywords": "关键词", "evidence": "参考出处", "remarks": "备注", "state": "状态",
}


def split_list(text: str) -> list[str]:
    return [part.strip() for part in _SPLIT.split(text or "") if part.strip()]


def indicator_from_form(form: MultiDict, *, with_code: bool) -> dict[str, Any]:
    """The indicator dict of a submitted form (basis rows from parallel ``basis_*`` lists)."""
    # Only fields the form carries: an edit keeps what the form does not show (the caller merges).
    data: dict[str, Any] = {name: form[name] for name in TEXT_FIELDS if name in form}
    if with_code:
        data["code"] = form.get("code", "")
    for name in LIST_FIELDS:
        if name in form:
            data[name] = split_list(form[name])
    kinds, titles, numbers = form.getlist("basis_kind"), form.getlist("basis_title"), form.getlist("basis_doc_no")
    data["basis"] = [
        {"kind": kind, "title": title, "doc_no": number}
        for kind, title, number in zip(kinds, titles, numbers + [""] * (len(titles) - len(numbers)))
        if title.strip() or number.strip()
    ]
    return data


def field_of(path: str) -> str:
    """``basis[2].title`` → ``basis``; problems are shown next to the top-level field."""
    return re.split(r"[.\[]", path or "", maxsplit=1)[0] or "_form"


def problems_by_field(error: ValidationFailed) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for problem in error.problems:
        message = problem.message
        if "[" in (problem.field or ""):
            index = re.search(r"\[(\d+)\]", problem.field)
            message = f"第 {index.group(1)} 条：{message}" if index else message
        problems.setdefault(field_of(problem.field), []).append(message)
    return problems


def version_from(form: MultiDict) -> int:
    try:
        return int(form.get("row_version", ""))
    except ValueError:
        return -1

"""Marshmallow schemas: one per external shape, shared by YAML, Excel, forms and the API.

Loading normalises what people type (``>=`` → ``≥``, ``％`` → ``%``, ``产出/成本`` → ``成本指标/经济成本指标``)
and validates; every message is Chinese and says how to fix the value.
"""
from __future__ import annotations

import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_dump, pre_load, validate, validates_schema

from kb import vocab
from kb.characters import forbidden_message
from kb.errors import Problem

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
NUMBER_PATTERN = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")

MESSAGES = {
    "required": "缺少必填字段，请补上。",
    "null": "不能为空（null），请填写内容。",
    "invalid": "类型不对，应为文本。",
}


class Text(fields.String):
    """Text without control, NUL, lone-surrogate, zero-width or bidi-override characters (issue 14
    item 5): one check here reaches the web forms, the API, YAML and the Excel import alike.
    ``multiline=False`` also refuses line breaks (names, codes)."""

    def __init__(self, *args, multiline: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.multiline = multiline

    def _deserialize(self, value, attr, data, **kwargs):
        loaded = super()._deserialize(value, attr, data, **kwargs)
        message = forbidden_message(loaded, multiline=self.multiline)
        if message:
            raise ValidationError(message)
        return loaded


def text(required: bool = False, **options) -> fields.String:
    """A text field with Chinese messages; optional text defaults to an empty string."""
    if not required:
        options.setdefault("load_default", "")
    return Text(required=required, error_messages=MESSAGES, **options)


def text_list(**options) -> fields.List:
    return fields.List(
        Text(multiline=False, error_messages={**MESSAGES, "invalid": "列表中的每一项都应为文本。"}),
        load_default=list,
        error_messages={**MESSAGES, "invalid": "应为列表，例如 [项目一, 项目二]。"},
        **options,
    )


class StrictSchema(Schema):
    """Unknown fields are errors (a typo like ``uint:`` must not vanish silently)."""

    class Meta:
        unknown = RAISE

    error_messages = {
        "unknown": "未知字段：请检查拼写，可用字段见 CONTRACT.md 第 4 节。",
        "type": "格式不对：这里应为键值对（字段名: 值）。",
    }


def _squeeze_strings(data: Any) -> Any:
    """Trim surrounding whitespace from every text value of a mapping, keeping other types."""
    if isinstance(data, dict):
        return {key: value.strip() if isinstance(value, str) else value for key, value in data.items()}
    return data


class BasisSchema(StrictSchema):
    kind = text(
        required=True,
        validate=validate.OneOf(
            [kind.value for kind in vocab.BasisKind],
            error="来源类型只能是：" + "、".join(kind.value for kind in vocab.BasisKind) + "。",
        ),
    )
    title = text(required=True, validate=validate.Length(min=1, error="请填写来源文件或标准的名称。"))
    doc_no = text()

    @pre_load
    def _normalise(self, data, **kwargs):
        return _squeeze_strings(data)

    @post_dump
    def _drop_empty_doc_no(self, data, **kwargs):
        if not data.get("doc_no"):
            data.pop("doc_no", None)
        return data


class IndicatorSchema(StrictSchema):
    """The indicator form of CONTRACT §4 (plus optional ``state``, ``evidence``, ``remarks``)."""

    code = text(
        required=True,
        validate=validate.Regexp(CODE_PATTERN, error="编码只能由字母、数字、-、_ 组成（不超过 32 位），例如 JY-001。"),
    )
    name = text(required=True, multiline=False,
                validate=validate.Length(min=1, max=200, error="指标名称不能为空，且不超过 200 字。"))
    level1 = text(
        required=True,
        validate=validate.OneOf(
            vocab.taxonomy().level1_names(),
            error="一级指标只能是：" + "、".join(vocab.taxonomy().level1_names()) + "。",
        ),
    )
    level2 = text(required=True)
    nature = text(
        required=True,
        validate=validate.OneOf([n.value for n in vocab.Nature], error="指标性质只能是“定量”或“定性”。"),
    )
    operator = text(required=True)
    target = text(required=True)
    unit = text()
    definition = text()
    formula = text()
    basis = fields.List(
        fields.Nested(BasisSchema),
        required=True,
        error_messages={**MESSAGES, "invalid": "basis 应为列表，每项含 kind、title（可选 doc_no）。"},
    )
    data_source = text()
    projects = text_list()
    keywords = text_list()
    state = text(
        load_default=vocab.IndicatorState.ACTIVE.value,
        validate=validate.OneOf([s.value for s in vocab.IndicatorState], error="state 只能是 active 或 retired。"),
    )
    evidence = text()
    remarks = text()

    @pre_load
    def _normalise(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        data = _squeeze_strings(data)
        # Numbers typed without quotes (target: 100) are accepted as their text.
        if isinstance(data.get("target"), (int, float)) and not isinstance(data.get("target"), bool):
            data["target"] = _number_text(data["target"])
        if isinstance(data.get("level1"), str) and isinstance(data.get("level2"), str):
            data["level1"], data["level2"] = vocab.taxonomy().normalize(data["level1"], data["level2"])
        if isinstance(data.get("operator"), str):
            data["operator"] = vocab.canonical_operator(data["operator"])
        if isinstance(data.get("unit"), str):
            data["unit"] = vocab.units().canonical(data["unit"])
        return data

    @validates_schema
    def _check_consistency(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        taxonomy = vocab.taxonomy()
        level1, level2 = data.get("level1"), data.get("level2")
        if level1 in taxonomy.levels and level2 is not None and not taxonomy.is_valid(level1, level2):
            errors["level2"] = [
                f"“{level2}”不属于一级指标“{level1}”，可选：{'、'.join(taxonomy.levels[level1])}。"
            ]
        nature, operator = data.get("nature"), data.get("operator")
        target, unit = data.get("target"), data.get("unit", "")
        if nature == vocab.Nature.QUANTITATIVE:
            if operator is not None and operator not in vocab.OPERATORS:
                errors["operator"] = [f"定量指标的指标方向只能是 {' '.join(vocab.OPERATORS)}。"]
            if target is not None and not NUMBER_PATTERN.match(target):
                errors["target"] = [f"定量指标的指标值应为数字（如 95 或 0.5），现在是“{target}”；单位请写在 unit 中。"]
            if not unit:
                errors["unit"] = ["定量指标必须填写计量单位，例如 %、人、个、万元。"]
        elif nature == vocab.Nature.QUALITATIVE:
            if operator is not None and operator != vocab.QUALITATIVE_OPERATOR:
                errors["operator"] = ["定性指标的指标方向请填“定性”。"]
            if target is not None and not target:
                errors["target"] = ["定性指标请填写等级表述，例如“达到预期”“应保尽保”。"]
            if unit:
                errors["unit"] = ["定性指标不应有计量单位，请清空 unit。"]
        if "basis" in data and not data["basis"]:
            errors["basis"] = ["至少填写一条指标来源（政策文件、行业标准、历史标准、计划标准、三定方案或其他）。"]
        if errors:
            raise ValidationError(errors)

    @post_dump
    def _drop_default_extras(self, data, **kwargs):
        if data.get("state") == vocab.IndicatorState.ACTIVE.value:
            data.pop("state")
        for optional in ("evidence", "remarks"):
            if not data.get(optional):
                data.pop(optional, None)
        return data


def _number_text(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


class DepartmentSchema(StrictSchema):
    code = text(
        required=True,
        validate=validate.Regexp(CODE_PATTERN, error="部门编码只能由字母和数字组成，例如 101。"),
    )
    name = text(required=True, multiline=False, validate=validate.Length(min=1, max=200, error="部门名称不能为空。"))
    parent = Text(
        multiline=False, attribute="parent_code", data_key="parent", load_default=None, allow_none=True, error_messages=MESSAGES
    )
    pilot = fields.Boolean(load_default=False, error_messages={**MESSAGES, "invalid": "应为 true 或 false。"})
    functions = text_list()

    @pre_load
    def _normalise(self, data, **kwargs):
        data = _squeeze_strings(data)
        # Codes typed without quotes (code: 101) are read by YAML as numbers; take their text.
        for key in ("code", "parent"):
            if isinstance(data, dict) and isinstance(data.get(key), int) and not isinstance(data[key], bool):
                data[key] = str(data[key])
        return data


class IndicatorSetSchema(StrictSchema):
    year = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=2000, max=2100, error="年度应为 2000–2100 之间的整数。"),
        error_messages={**MESSAGES, "invalid": "年度应为整数，例如 2025。"},
    )
    version = fields.Integer(
        load_default=1, strict=True, validate=validate.Range(min=1, error="版本号从 1 开始。"),
        error_messages={**MESSAGES, "invalid": "版本号应为整数。"},
    )
    status = text(
        load_default=vocab.SetStatus.DRAFT.value,
        validate=validate.OneOf([s.value for s in vocab.SetStatus], error="状态只能是 draft、submitted、confirmed、certified、superseded。"),
    )
    indicators = fields.List(
        fields.Nested(IndicatorSchema), load_default=list,
        error_messages={**MESSAGES, "invalid": "indicators 应为指标列表。"},
    )


class DepartmentFileSchema(StrictSchema):
    """``kb/departments/<code>.yaml``: one department and its current indicator set."""

    department = fields.Nested(DepartmentSchema, required=True, error_messages=MESSAGES)
    indicator_set = fields.Nested(IndicatorSetSchema, load_default=None, allow_none=True, error_messages=MESSAGES)


class CommonFileSchema(StrictSchema):
    """``kb/indicators/common.yaml``: the common indicators (共性指标) owned by finance."""

    indicators = fields.List(
        fields.Nested(IndicatorSchema), required=True,
        error_messages={**MESSAGES, "invalid": "indicators 应为指标列表。"},
    )


def problems_from(error: ValidationError, source: str, entry: str = "") -> list[Problem]:
    """Flatten marshmallow's nested messages into problems naming the entry and field."""
    problems: list[Problem] = []
    _collect(error.normalized_messages(), source, entry, [], problems, error.data)
    return problems


def _collect(messages, source, entry, path, problems, data) -> None:
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, (dict, list)):
                _collect(message, source, entry, path, problems, data)
            else:
                problems.append(Problem(str(message), source, entry, _field_path(path)))
        return
    for key, value in messages.items():
        if key == "_schema":
            _collect(value, source, entry, path, problems, data)
            continue
        sub_entry, sub_path = entry, [*path, key]
        # Name indicators by their code (JY-001) rather than a list position.
        if path and path[-1] == "indicators" and isinstance(key, int):
            sub_entry = _indicator_label(data, path, key)
            sub_path = []
        _collect(value, source, sub_entry, sub_path, problems, data)


def _indicator_label(data, path, index: int) -> str:
    node = data
    try:
        for key in path:
            node = node[key]
        code = node[index].get("code")
    except (KeyError, IndexError, TypeError, AttributeError):
        code = None
    return f"指标 {code}" if code else f"第 {index + 1} 条指标"


def _field_path(path) -> str:
    out = ""
    for key in path:
        out += f"[{key + 1}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


class DepartmentRefSchema(Schema):
    code = fields.String()
    name = fields.String()


class SearchHitSchema(Schema):
    """One hit of ``GET /api/v1/search``, ``/recommend`` and ``kb search --json`` (CONTRACT §5)."""

    code = fields.String()
    name = fields.String()
    department = fields.Nested(DepartmentRefSchema, allow_none=True)
    level1 = fields.String()
    level2 = fields.String()
    nature = fields.String()
    unit = fields.String()
    score = fields.Float()
    highlight = fields.Dict(keys=fields.String(), values=fields.String())
    # Why it matched: each query term found in it, how the term entered the query (输入词, 同义词, 纠错,
    # 拼音, 字面相近 …) and the typed word it came from.
    why = fields.List(fields.Dict(keys=fields.String(), values=fields.String()))


class SearchResultSchema(Schema):
    total = fields.Integer()
    hits = fields.List(fields.Nested(SearchHitSchema))
    facets = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()))
    suggestion = fields.String(allow_none=True)
    # Present (true) only while the index is being rebuilt: the normal answer keeps CONTRACT §5's shape.
    index_rebuilding = fields.Boolean(metadata={"description": "仅在检索索引丢失、正在后台重建时出现（true），结果暂由数据库查找给出"})


class DepartmentSummarySchema(Schema):
    """One row of ``GET /api/v1/departments``: the department and the status of its current set."""

    code = fields.String()
    name = fields.String()
    parent = fields.String(allow_none=True)
    pilot = fields.Boolean()
    set_year = fields.Integer(allow_none=True)
    set_version = fields.Integer(allow_none=True)
    status = fields.String(allow_none=True, metadata={"description": "draft | submitted | confirmed | certified | superseded；无指标集时为 null"})
    status_label = fields.String(allow_none=True)
    indicator_count = fields.Integer()

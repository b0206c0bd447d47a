"""The columns of the 梳理模版: headers, spellings accepted on import, widths and help texts.

One table drives the template, the exports and the import, so a header renamed here is renamed
everywhere. ``key`` is the field of the YAML form (CONTRACT §4) or a pseudo-field (``basis_*`` are
spread over three columns, ``department`` appears only in whole-library exports).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: int
    help: str
    required: bool = False
    synonyms: tuple[str, ...] = ()
    example: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("code", "指标编码", 12, "全库唯一的编码，如 JY-001。新增指标可留空，导入时自动分配；修改已有指标请保留原编码。",
           synonyms=("编码", "指标代码", "指标编号", "编号", "代码", "三级指标编码")),
    Column("level1", "一级指标", 12, "产出指标、效益指标、满意度指标、成本指标（下拉选择）。同一组的可只填第一行或合并单元格。",
           True, ("一级", "一级指标名称")),
    Column("level2", "二级指标", 16, "须属于所选一级指标，如 产出指标→数量指标/质量指标/时效指标（下拉选择）。",
           True, ("二级", "二级指标名称")),
    Column("name", "三级指标名称", 28, "指标的名称，简明具体，如“学生资助政策覆盖率”。",
           True, ("名称", "指标名称", "三级指标", "三级", "绩效指标", "指标", "三级指标名")),
    Column("nature", "指标性质", 10, "定量 或 定性（下拉选择）。留空时按指标值判断：数字为定量，文字为定性。",
           True, ("指标值类型", "指标类型", "定量定性", "定量/定性", "定性/定量", "性质", "定量或定性")),
    Column("operator", "指标方向", 10, "定量指标填 ≥ ≤ = > <（也可写 >= <=），定性指标填“定性”。也可直接在指标值中写“≥95%”。",
           True, ("计算符号", "符号", "运算符", "比较符", "方向", "指标值方向")),
    Column("target", "指标值", 14, "定量指标填数字（如 95、0.5、12000）；定性指标填等级表述（如“达到预期”“应保尽保”）。",
           True, ("目标值", "年度指标值", "年度目标值", "绩效目标值", "指标目标值", "标准值", "指标值目标值")),
    Column("unit", "计量单位", 10, "定量指标必填，如 %、人、个、万元、元/人·月（下拉可选，也可填写其他单位）；定性指标留空。",
           False, ("度量单位", "单位", "计量单位名称")),
    Column("definition", "指标解释", 36, "指标的含义和统计口径，比率类写清分子和分母。",
           synonyms=("指标内容", "指标说明", "指标定义", "指标解释说明", "解释", "含义", "指标含义")),
    Column("formula", "计算公式", 28, "定量指标写明计算方法，如 获得资助学生数 ÷ 符合条件学生数 × 100%。",
           synonyms=("公式", "计算方式", "计算方法", "公式或说明", "计算公式或说明")),
    Column("basis_kind", "指标来源类型", 14,
           "政策文件、行业标准、历史标准、计划标准、三定方案、其他（下拉选择）。多个来源用“；”分隔，与来源文件一一对应。",
           True, ("来源类型", "指标来源", "依据类型", "设定依据类型", "指标值设定依据", "设定依据")),
    Column("basis_title", "指标来源文件", 32, "来源文件或标准的名称，如《学生资助资金管理办法》。多个用“；”分隔。",
           True, ("来源文件", "依据文件", "政策依据", "设置依据", "指标来源依据", "来源文件名称", "依据文件名称")),
    Column("basis_doc_no", "文号", 18, "来源文件的文号，如 财教〔2021〕310号；没有可留空。多个用“；”分隔。",
           synonyms=("文件文号", "发文字号", "文件编号")),
    Column("data_source", "数据来源", 24, "数据从哪里取得，如 学生资助管理信息系统、统计台账。",
           synonyms=("数据来源渠道", "数据获取方式")),
    Column("projects", "适用项目", 24, "通常服务的预算项目，多个用“、”分隔。", synonyms=("项目名称", "适用项目名称", "对应项目", "适用范围")),
    Column("keywords", "关键词", 18, "便于检索的词，多个用“、”分隔。", synonyms=("关键字", "检索词")),
    Column("remarks", "备注", 20, "其他说明。", synonyms=("说明",)),
    Column("evidence", "佐证材料", 20, "可选：佐证材料或其链接。", synonyms=("佐证资料", "证明材料")),
    Column("state", "状态", 8, "可选：在用 或 已出库；留空表示不改变。", synonyms=("指标状态",)),
)
DEPARTMENT_COLUMN = Column(
    "department", "所属部门", 18, "部门编码（可带名称，如“101 县教育局”）；共性指标填“共性指标”。",
    synonyms=("部门", "部门编码", "部门名称", "预算单位", "预算部门", "单位名称", "单位编码"),
)
BY_KEY = {column.key: column for column in (*COLUMNS, DEPARTMENT_COLUMN)}
# Columns people add that carry nothing for the library; ignored without a warning.
IGNORED_HEADERS = frozenset({"序号", "行号", "编号序号"})

STATE_LABELS = {"active": "在用", "retired": "已出库"}
STATE_ALIASES = {
    "在用": "active", "正常": "active", "启用": "active", "有效": "active", "active": "active",
    "已出库": "retired", "出库": "retired", "停用": "retired", "作废": "retired", "retired": "retired",
}
COMMON_DEPARTMENT_LABELS = frozenset({"共性指标", "共性", "财政共性", "common"})

_BRACKETS = re.compile(r"[（(\[【〔<《][^）)\]】〕>》]*[）)\]】〕>》]")


def normalize_header(text: object) -> str:
    """A header as compared: NFKC, no spaces, no ``*``/``※`` marks, no bracketed hints like （必填）."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    text = re.sub(r"[\s*※★:：]+", "", text)
    stripped = _BRACKETS.sub("", text)
    return stripped or text


def _header_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for column in (*COLUMNS, DEPARTMENT_COLUMN):
        for spelling in (column.header, *column.synonyms):
            index.setdefault(normalize_header(spelling), column.key)
    return index


HEADER_INDEX = _header_index()


def column_key(header: object) -> str | None:
    """The column key for a header as people write it (``度量单位`` → ``unit``), or None."""
    return HEADER_INDEX.get(normalize_header(header))

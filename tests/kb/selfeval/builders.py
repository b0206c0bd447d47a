"""Filled 自评表 workbooks for tests and the benchmark (worked example 1 of the domain file by default)."""
from __future__ import annotations

from typing import Any

from kb.spreadsheets.goal_forms import workbook_bytes
from kb.spreadsheets.selfeval import selfeval_workbook

EXAMPLE_ROWS = [
    {"level1": "产出指标", "level2": "数量指标", "name": "培训人数", "target": "≥500人", "actual": "480人",
     "explanation": "部分学员未报到；下年提前摸底。"},
    {"level1": "产出指标", "level2": "质量指标", "name": "培训合格率", "target": "=100%", "actual": "100%"},
    {"level1": "产出指标", "level2": "时效指标", "name": "证书发放时间", "target": "≤30天", "actual": "36天",
     "explanation": "印制延迟；改为电子证书。"},
    {"level1": "产出指标", "level2": "质量指标", "name": "培训组织规范", "target": "定性", "actual": "达成年度指标",
     "score": 12.5},
    {"level1": "效益指标", "level2": "社会效益指标", "name": "就业率", "target": "≥90%", "actual": "92%"},
    {"level1": "效益指标", "level2": "社会效益指标", "name": "技能提升效果", "target": "定性",
     "actual": "部分达成并具有一定效果", "score": 10, "explanation": "跟踪不足；建立回访制度。"},
    {"level1": "满意度指标", "level2": "服务对象满意度指标", "name": "学员满意度", "target": "≥90%", "actual": "85%",
     "explanation": "场地偏远；就近设点。"},
]


def filled_form(**overrides: Any) -> dict[str, Any]:
    form = {"year": 2023, "project": "职业技能培训补贴", "department": "县教育局", "implementing_unit": "县职教中心",
            "initial_budget": 100, "budget": 100, "executed": 95, "expected_objective": "培训 500 人",
            "achieved_objective": "培训 480 人", "rows": [dict(row) for row in EXAMPLE_ROWS]}
    form.update(overrides)
    return form


def filled_bytes(**overrides: Any) -> bytes:
    return workbook_bytes(selfeval_workbook(filled_form(**overrides)))

"""kb.spreadsheets.goal_forms: the standard 申报表 workbook — layout, grouped indicator table, printing, safety."""
from __future__ import annotations

import io

from openpyxl import load_workbook

from kb.spreadsheets import goal_forms

GOAL = {
    "id": 1,
    "status": "approved",
    "project": {
        "department": {"code": "102", "name": "县卫生健康局"}, "year": 2025,
        "name": "2025年基本公共卫生服务项目", "amount": 1200.0, "fiscal_amount": 1000.0, "kind": "延续",
        "category": "公共服务类", "period": "2025年1月—12月", "implementing_unit": "", "contact": "张三 5551234",
        "description": "=HYPERLINK(\"http://x\")为辖区居民提供服务",
    },
    "long_term_objective": "三年内居民健康素养水平达到 28%。",
    "annual_objective": "为全县居民提供 12 类基本公共卫生服务。",
    "rows": [
        {"code": "GX-021", "name": "服务对象满意度", "level1": "满意度指标", "level2": "服务对象满意度指标",
         "nature": "定量", "operator": "≥", "target": "90", "unit": "%", "basis_note": "计划标准", "remarks": ""},
        {"code": "WJ-001", "name": "疫苗接种率", "level1": "产出指标", "level2": "数量指标", "nature": "定量",
         "operator": "≥", "target": "90", "unit": "%", "basis_note": "政策文件", "remarks": ""},
        {"code": "", "name": "制度执行", "level1": "产出指标", "level2": "质量指标", "nature": "定性",
         "operator": "定性", "target": "符合相关规定", "unit": "", "basis_note": "", "remarks": "自拟"},
        {"code": "WJ-002", "name": "服务人次", "level1": "产出指标", "level2": "数量指标", "nature": "定量",
         "operator": "≥", "target": "30000", "unit": "人次", "basis_note": "", "remarks": ""},
    ],
    "reviews": [
        {"reviewer": "专家乙", "role": "expert", "verdict": "良", "summary": "目标明确", "round": 1},
        {"reviewer": "财政甲", "role": "finance", "verdict": "优", "summary": "", "round": 1},
    ],
}


def reopen(workbook):
    return load_workbook(io.BytesIO(goal_forms.workbook_bytes(workbook)))


def cells(sheet):
    return {cell.coordinate: cell.value for row in sheet.iter_rows() for cell in row if cell.value not in (None, "")}


def find(sheet, text):
    return next(cell for row in sheet.iter_rows() for cell in row if cell.value == text)


def test_form_layout_and_values():
    sheet = reopen(goal_forms.goal_form_workbook(GOAL)).active
    values = cells(sheet)
    assert values["A1"] == "项目支出绩效目标申报表" and values["A2"] == "（2025年度）"
    assert "县卫生健康局" in values["A3"] and values["F3"] == "金额单位：万元"
    for label in ("一、项目基本信息", "二、项目资金情况（万元）", "三、项目概况", "四、绩效目标",
                  "五、年度绩效指标", "六、审核意见"):
        assert label in values.values()
    name_label = find(sheet, "项目名称")
    assert sheet.cell(row=name_label.row, column=2).value == "2025年基本公共卫生服务项目"
    money = find(sheet, "资金总额")
    assert sheet.cell(row=money.row, column=2).value == 1200
    assert sheet.cell(row=money.row, column=6).value == 200  # 其他资金 = 总额 − 财政拨款
    assert sheet.cell(row=find(sheet, "年度目标").row, column=2).value == GOAL["annual_objective"]


def test_indicator_table_is_grouped_and_merged():
    sheet = reopen(goal_forms.goal_form_workbook(GOAL)).active
    header = find(sheet, "一级指标").row
    table = [[sheet.cell(row=header + i, column=c).value for c in range(1, 9)] for i in range(1, 5)]
    # 产出 first (taxonomy order), 数量 before 质量, library order kept inside a group; 满意度 after.
    assert [r[2] for r in table] == ["疫苗接种率", "服务人次", "制度执行", "服务对象满意度"]
    assert table[0][3] == "≥90" and table[0][4] == "%" and table[0][6] == "WJ-001"
    assert table[2][3] == "符合相关规定" and table[2][6] == "部门自拟"
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert f"A{header + 1}:A{header + 3}" in merged and f"B{header + 1}:B{header + 2}" in merged
    assert sheet.print_title_rows == f"${header}:${header}"


def test_review_opinions_printed():
    sheet = reopen(goal_forms.goal_form_workbook(GOAL)).active
    expert = find(sheet, "专家评审意见")
    assert "审核结论：良。目标明确（专家乙）" in sheet.cell(row=expert.row, column=2).value
    finance = find(sheet, "财政部门审核意见")
    assert "审核结论：优" in sheet.cell(row=finance.row, column=2).value


def test_print_setup_for_a4():
    sheet = reopen(goal_forms.goal_form_workbook(GOAL)).active
    assert int(sheet.page_setup.paperSize) == 9  # A4
    assert sheet.page_setup.fitToWidth == 1 and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet["A1"].font.name == "宋体"


def test_text_that_looks_like_a_formula_stays_text():
    sheet = reopen(goal_forms.goal_form_workbook(GOAL)).active
    cell = sheet.cell(row=find(sheet, "立项依据及实施内容").row, column=2)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


def test_department_workbook_has_an_index_and_one_sheet_per_goal():
    second = {**GOAL, "status": "draft", "reviews": [],
              "project": {**GOAL["project"], "name": "2025年基本公共卫生服务项目"}}
    workbook = reopen(goal_forms.department_workbook([GOAL, second], "县卫生健康局", 2025))
    assert workbook.sheetnames == ["目录", "2025年基本公共卫生服务项目", "2025年基本公共卫生服务项目（2）"]
    index = workbook["目录"]
    assert index["A1"].value == "县卫生健康局 2025年度项目支出绩效目标申报表目录"
    assert [index.cell(row=r, column=6).value for r in (3, 4)] == ["已审定（冻结）", "部门编制中"]

"""Exports in the template format re-import to exactly the library (round trips), also after
LibreOffice opened and saved them; the printable catalogue groups by department and level."""
import io
from pathlib import Path

import openpyxl
from sqlalchemy import select

from kb.models import Department, Indicator
from kb.services.audit import Actor
from kb.services.imports import apply_import, preview_import
from kb.spreadsheets.writer import (
    catalogue,
    common_workbook,
    department_workbook,
    library_workbook,
    safe_filename,
)
from tests.kb.spreadsheets.builders import soffice_convert

FINANCE = Actor("fin", "finance", 1)


def test_every_department_round_trips_unchanged(seeded):
    codes = seeded.scalars(select(Department.code).join(Indicator).distinct()).all()
    assert len(codes) >= 8
    for code in codes:
        plan = preview_import(seeded, FINANCE, department_workbook(seeded, code), f"{code}.xlsx", code)
        assert not plan.added and not plan.changed, (code, [(r.code, r.changes) for r in plan.changed])
        assert plan.unchanged and not plan.untouched


def test_whole_library_round_trips_unchanged(seeded):
    total = len(seeded.scalars(select(Indicator.code)).all())
    plan = preview_import(seeded, FINANCE, library_workbook(seeded), "全库.xlsx", None)
    assert len(plan.unchanged) == total and not plan.added and not plan.changed


def test_common_indicators_round_trip(seeded):
    plan = preview_import(seeded, FINANCE, common_workbook(seeded), "共性指标.xlsx", None)
    assert plan.unchanged and all(row.department_code is None for row in plan.rows) and not plan.changed


def test_edited_export_changes_exactly_what_was_edited(seeded):
    content = department_workbook(seeded, "101")
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    sheet = workbook["指标梳理表"]
    sheet["G3"] = 13000
    sheet.append(["", "产出指标", "数量指标", "新建食堂数", "定量", "≥", 2, "个", "新建学校食堂数量。", "", "计划标准",
                  "年度建设计划", "", "", "", "", ""])
    stream = io.BytesIO()
    workbook.save(stream)
    plan = preview_import(seeded, FINANCE, stream.getvalue(), "101.xlsx", "101")
    assert [(r.code, [(c.label, c.after) for c in r.changes]) for r in plan.changed] == [("JY-001", [("指标值", "13000")])]
    assert [r.code for r in plan.added] == ["JY-041"]
    apply_import(seeded, FINANCE, plan)
    seeded.commit()
    again = preview_import(seeded, FINANCE, department_workbook(seeded, "101"), "101.xlsx", "101")
    assert not again.added and not again.changed


def test_round_trip_through_libreoffice(seeded, tmp_path: Path):
    path = tmp_path / "102.xlsx"
    path.write_bytes(department_workbook(seeded, "102"))
    converted = soffice_convert(path, "xlsx:Calc MS Excel 2007 XML", tmp_path / "out")
    plan = preview_import(seeded, FINANCE, converted.read_bytes(), "102.xlsx", "102")
    assert plan.unchanged and not plan.added and not plan.changed, [(r.code, r.changes) for r in plan.changed]


def test_catalogue_groups_by_department_and_level(seeded):
    groups = catalogue(seeded)
    assert groups[0].name == "共性指标" and groups[0].count == 22
    education = next(g for g in groups if g.code == "101")
    assert education.status == "专家已审定" and education.year == 2025
    level1s = [level1 for level1, _ in education.levels]
    assert level1s == sorted(level1s, key=["产出指标", "效益指标", "满意度指标", "成本指标"].index)
    assert sum(len(items) for _, level2s in education.levels for _, items in level2s) == education.count
    only = catalogue(seeded, "101")
    assert [g.code for g in only] == ["101"]


def test_retired_indicators_are_left_out_of_the_catalogue(seeded):
    indicator = seeded.scalar(select(Indicator).where(Indicator.code == "JY-001"))
    before = next(g for g in catalogue(seeded, "101")).count
    from kb.vocab import IndicatorState

    indicator.state = IndicatorState.RETIRED
    seeded.flush()
    assert next(g for g in catalogue(seeded, "101")).count == before - 1


def test_safe_filename():
    assert safe_filename('县"教育\r\n局/../x') == "县教育局..x"
    assert safe_filename("\n") == "导出"


def test_retired_indicators_round_trip_with_their_state(seeded):
    from kb.vocab import IndicatorState

    seeded.scalar(select(Indicator).where(Indicator.code == "JY-002")).state = IndicatorState.RETIRED
    seeded.commit()
    content = department_workbook(seeded, "101")
    states = [row[18].value for row in openpyxl.load_workbook(io.BytesIO(content))["指标梳理表"].iter_rows(min_row=3)]
    assert states.count("已出库") == 1
    plan = preview_import(seeded, FINANCE, content, "101.xlsx", "101")
    assert not plan.changed and not plan.added

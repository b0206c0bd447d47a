"""Importing the 梳理模版: preview (added / changed field by field / unchanged), all or nothing,
permissions, and one test per kind of mistake asserting its message and that nothing changed."""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kb.db import make_session_factory
from kb.errors import NotFound, PermissionDenied
from kb.models import AuditEntry, Department, Indicator, IndicatorSet
from kb.services.audit import Actor
from kb.errors import ImportFailed, PreviewOutdated
from kb.services.imports import apply_import, confirm_import, preview_import
from kb.services.library import indicator_to_dict
from kb.vocab import SetStatus
from tests.kb.spreadsheets.builders import HEADERS, csv_bytes, filled, xlsx_bytes

FINANCE = Actor("fin", "finance", 1)


def department_actor(department: Department) -> Actor:
    return Actor("dep", "department", 2, department.id)


@pytest.fixture
def library(session, make_department, make_indicator):
    """Department 901 (draft) with T-001 and T-002, department 902 with O-001, one common indicator."""
    own = make_department("901", "测试局")
    make_indicator(own, code="T-001")
    second = make_indicator(own, code="T-002", name="培训合格率", target="90")
    second.position = 1
    other = make_department("902", "他局")
    make_indicator(other, code="O-001", name="他局指标")
    make_indicator(None, code="GX-001", name="共性指标甲")
    session.commit()
    return own


def snapshot(session) -> str:
    """Everything an import could touch: indicators, sets and the audit log."""
    session.expire_all()
    indicators = [indicator_to_dict(i) for i in session.scalars(select(Indicator).order_by(Indicator.code))]
    sets = session.execute(select(IndicatorSet.department_id, IndicatorSet.status, IndicatorSet.version)).all()
    audit = session.scalar(select(func.count()).select_from(AuditEntry))
    payload = json.dumps([indicators, [list(map(str, s)) for s in sets], audit], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def existing_row(code="T-001", **overrides):
    """T-001 as the template shows it (matches tests.conftest.indicator_data)."""
    values = dict(指标编码=code, 三级指标名称="测试覆盖率", 一级指标="产出指标", 二级指标="质量指标", 指标值=95,
                  计量单位="%", 指标解释="测试用指标。", 计算公式="覆盖数 ÷ 总数 × 100%", 指标来源类型="计划标准",
                  指标来源文件="测试方案", 数据来源="测试台账", 适用项目="测试项目", 关键词="测试")
    return filled(**{**values, **overrides})


# ------------------------------------------------------------------ preview

def test_preview_adds_changes_and_leaves_alone(session, library):
    content = xlsx_bytes([
        existing_row(),                                             # unchanged
        existing_row("T-002", 三级指标名称="培训合格率", 指标值="≥98%", 计量单位=""),  # changed
        filled(),                                                   # new, no code
    ])
    before = snapshot(session)
    plan = preview_import(session, FINANCE, content, "测试局.xlsx", "901")
    assert snapshot(session) == before  # a preview writes nothing
    assert [(r.action, r.code, r.row) for r in plan.rows] == [("same", "T-001", 3), ("change", "T-002", 4),
                                                               ("add", "T-003", 5)]
    changed = plan.changed[0]
    assert [(c.label, c.before, c.after) for c in changed.changes] == [("指标值", "90", "98")]
    assert plan.added[0].code_assigned and plan.added[0].data["unit"] == "人次"
    assert plan.untouched == []
    assert plan.sha256 == hashlib.sha256(content).hexdigest()


def test_existing_indicators_missing_from_the_file_are_left_alone(session, library):
    plan = preview_import(session, FINANCE, xlsx_bytes([existing_row()]), "f.xlsx", "901")
    assert plan.untouched == [("T-002", "培训合格率")]


def test_columns_absent_from_the_file_keep_their_values(session, library):
    headers = ["指标编码", "三级指标名称", "指标值"]
    plan = preview_import(session, FINANCE, xlsx_bytes([{"指标编码": "T-001", "三级指标名称": "测试覆盖率",
                                                          "指标值": "96"}], headers), "f.xlsx", "901")
    (row,) = plan.rows
    assert [(c.label, c.before, c.after) for c in row.changes] == [("指标值", "95", "96")]
    assert row.data["definition"] == "测试用指标。" and row.data["basis"][0]["title"] == "测试方案"


def test_row_without_code_matches_the_existing_indicator_of_that_name(session, library):
    plan = preview_import(session, FINANCE, xlsx_bytes([existing_row("", 指标值=97)]), "f.xlsx", "901")
    assert [(r.action, r.code) for r in plan.rows] == [("change", "T-001")]
    assert any("按名称对应到已有指标 T-001" in w.message for w in plan.warnings)


def test_codes_continue_the_department_series_or_start_one(session, library, make_department):
    make_department("903", "新局", status=None)
    session.commit()
    plan = preview_import(session, FINANCE, xlsx_bytes([filled(), filled(三级指标名称="第二项")]), "f.xlsx", "903")
    assert [r.code for r in plan.added] == ["D903-001", "D903-002"]


def test_tolerant_cells_become_clean_fields(session, library):
    row = filled(一级指标="产出", 二级指标="成本指标", 三级指标名称=" 单位 培训成本 ", 指标性质="", 指标方向="",
                 指标值="＜＝ 1,200 元/人", 计量单位="", 指标来源类型="历史数据；政策", 指标来源文件="上年决算；《培训费管理办法》",
                 文号="；晋财行〔2017〕1号", 关键词="培训，成本", 适用项目="干部培训（县级、乡级）")
    plan = preview_import(session, FINANCE, xlsx_bytes([row]), "f.xlsx", "901")
    data = plan.added[0].data
    assert (data["level1"], data["level2"]) == ("成本指标", "经济成本指标")  # old framework mapped
    assert (data["nature"], data["operator"], data["target"], data["unit"]) == ("定量", "≤", "1200", "元/人")
    assert data["name"] == "单位 培训成本"
    assert data["basis"] == [{"kind": "历史标准", "title": "上年决算", "doc_no": ""},
                             {"kind": "政策文件", "title": "《培训费管理办法》", "doc_no": "晋财行〔2017〕1号"}]
    assert data["keywords"] == ["培训", "成本"] and data["projects"] == ["干部培训（县级、乡级）"]


def test_qualitative_rows(session, library):
    row = filled(指标性质="定性", 指标方向="", 指标值="达到预期", 计量单位="")
    data = preview_import(session, FINANCE, xlsx_bytes([row]), "f.xlsx", "901").added[0].data
    assert (data["nature"], data["operator"], data["target"], data["unit"]) == ("定性", "定性", "达到预期", "")


def test_percent_formatted_cell_gives_percent_unit(session, library):
    def edit(ws):
        ws["G3"].number_format = "0.0%"
    row = filled(指标值=0.955, 计量单位="")
    data = preview_import(session, FINANCE, xlsx_bytes([row], edit=edit), "f.xlsx", "901").added[0].data
    assert (data["target"], data["unit"]) == ("95.5", "%")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_imports_like_xlsx(session, library, encoding):
    plan = preview_import(session, FINANCE, csv_bytes([filled(指标值="≥300人次", 计量单位="")], encoding), "表.csv", "901")
    assert [(r.action, r.data["target"], r.data["operator"]) for r in plan.rows] == [("add", "300", "≥")]


# ------------------------------------------------------------------ apply: all or nothing

def test_apply_writes_every_row_with_audit(session, library):
    plan = preview_import(session, FINANCE, xlsx_bytes([existing_row(指标值=99), filled()]), "测试局.xlsx", "901")
    result = apply_import(session, FINANCE, plan)
    session.commit()
    assert (result.added, result.changed, result.unchanged) == (1, 1, 0)
    new = session.scalar(select(Indicator).where(Indicator.code == "T-003"))
    assert new.department.code == "901" and new.position == 2 and new.basis[0].title == "年度培训计划"
    assert session.scalar(select(Indicator.target).where(Indicator.code == "T-001")) == "99"
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["update", "create", "import"]
    summary = session.scalars(select(AuditEntry).where(AuditEntry.action == "import")).one()
    assert summary.after["sha256"] == plan.sha256 and summary.actor == "fin"


def test_import_into_a_department_without_a_set_starts_a_draft(session, library, make_department):
    department = make_department("904", "无指标集局", status=None)
    session.commit()
    plan = preview_import(session, department_actor(department), xlsx_bytes([filled()]), "f.xlsx", "904")
    apply_import(session, department_actor(department), plan)
    session.commit()
    current = session.scalars(select(IndicatorSet).where(IndicatorSet.department_id == department.id)).one()
    assert current.status == SetStatus.DRAFT and current.is_current


def test_failure_while_writing_leaves_nothing(session, engine, library):
    """A row that cannot be written (its code was taken by someone else after the preview) rolls back all."""
    plan = preview_import(session, FINANCE, xlsx_bytes([existing_row(指标值=99), filled(), filled(三级指标名称="另一项")]),
                          "f.xlsx", "901")
    department_id = library.id
    session.rollback()  # end the read snapshot so this session sees the other writer
    with make_session_factory(engine)() as other:
        other.add(Indicator(code=plan.added[1].code, department_id=department_id, name="抢先", level1="产出指标",
                            level2="数量指标", nature="定量", operator="≥", target="1", unit="个"))
        other.commit()
    before = snapshot(session)
    with pytest.raises(IntegrityError):
        apply_import(session, FINANCE, plan)
        session.commit()
    session.rollback()
    assert snapshot(session) == before
    assert session.scalar(select(Indicator.target).where(Indicator.code == "T-001")) == "95"
    assert session.scalar(select(Indicator).where(Indicator.code == plan.added[0].code)) is None


def test_confirm_refuses_when_the_library_changed_since_the_preview(session, engine, library):
    content = xlsx_bytes([existing_row(指标值=99)])
    fingerprint = preview_import(session, FINANCE, content, "f.xlsx", "901").fingerprint
    session.rollback()
    with make_session_factory(engine)() as other:
        other.scalar(select(Indicator).where(Indicator.code == "T-001")).definition = "别人改了解释"
        other.commit()
    before = snapshot(session)
    with pytest.raises(PreviewOutdated) as caught:
        confirm_import(session, FINANCE, content, "f.xlsx", "901", fingerprint)
    assert "重新预览" in str(caught.value)
    session.rollback()
    assert snapshot(session) == before


def test_confirm_applies_an_unchanged_preview(session, library):
    content = xlsx_bytes([existing_row(指标值=99)])
    fingerprint = preview_import(session, FINANCE, content, "f.xlsx", "901").fingerprint
    session.rollback()
    result = confirm_import(session, FINANCE, content, "f.xlsx", "901", fingerprint)
    session.commit()
    assert result.changed == 1


# ------------------------------------------------------------------ permissions and scope

def test_department_user_imports_only_into_its_own_draft(session, library, make_department):
    other = session.scalar(select(Department).where(Department.code == "902"))
    with pytest.raises(PermissionDenied):
        preview_import(session, department_actor(other), xlsx_bytes([filled()]), "f.xlsx", "901")
    submitted = make_department("905", "已报送局", status=SetStatus.SUBMITTED)
    session.commit()
    with pytest.raises(PermissionDenied) as caught:
        preview_import(session, department_actor(submitted), xlsx_bytes([filled()]), "f.xlsx", "905")
    assert "草稿" in str(caught.value)
    plan = preview_import(session, department_actor(library), xlsx_bytes([filled()]), "f.xlsx", "901")
    assert len(plan.added) == 1


def test_finance_may_import_into_any_department(session, library, make_department):
    make_department("906", "已审定局", status=SetStatus.CERTIFIED)
    session.commit()
    assert len(preview_import(session, FINANCE, xlsx_bytes([filled()]), "f.xlsx", "906").added) == 1


def test_unknown_department(session, library):
    with pytest.raises(NotFound):
        preview_import(session, FINANCE, xlsx_bytes([filled()]), "f.xlsx", "999")


def test_whole_library_import_routes_rows_by_department(session, library):
    headers = ["所属部门", *HEADERS]
    rows = [{**existing_row(指标值=99), "所属部门": "901 测试局"}, {**filled(), "所属部门": "他局"},
            {**filled(三级指标名称="共性新指标"), "所属部门": "共性指标"}]
    plan = preview_import(session, FINANCE, xlsx_bytes(rows, headers), "全库.xlsx", None)
    assert [(r.action, r.code, r.department_code) for r in plan.rows] == [
        ("change", "T-001", "901"), ("add", "O-002", "902"), ("add", "GX-002", None)]
    apply_import(session, FINANCE, plan)
    session.commit()
    assert session.scalar(select(Indicator).where(Indicator.code == "GX-002")).department is None


def test_whole_library_import_is_for_finance_only(session, library):
    rows = [{**filled(), "所属部门": "901"}]
    with pytest.raises(PermissionDenied):
        preview_import(session, department_actor(library), xlsx_bytes(rows, ["所属部门", *HEADERS]), "f.xlsx", None)


def test_whole_library_import_needs_the_department_column(session, library):
    with pytest.raises(ImportFailed) as caught:
        preview_import(session, FINANCE, xlsx_bytes([filled()]), "f.xlsx", None)
    assert "所属部门" in caught.value.problems[0].message


# ------------------------------------------------------------------ every kind of mistake

def _no_level2_column(rows):
    headers = [h for h in HEADERS if h != "二级指标"]
    return xlsx_bytes(rows, headers)


MISTAKES = [
    # (id, rows, builder, column, expected message part)
    ("name missing", [filled(三级指标名称="")], None, "三级指标名称", "请填写三级指标名称"),
    ("name too long", [filled(三级指标名称="长" * 201)], None, "三级指标名称", "不超过 200 字"),
    ("level1 unknown", [filled(一级指标="投入指标")], None, "一级指标", "一级指标只能是"),
    ("level2 not under level1", [filled(二级指标="社会效益指标")], None, "二级指标", "不属于一级指标“产出指标”"),
    ("level2 missing", [filled(二级指标="", 一级指标="满意度指标")], None, "二级指标", "请填写二级指标"),
    ("nature unknown", [filled(指标性质="半定量")], None, "指标性质", "指标性质只能是"),
    ("operator unknown", [filled(指标方向="约等于")], None, "指标方向", "指标方向只能是"),
    ("quantitative text target", [filled(指标值="较好")], None, "指标值", "指标值应为数字"),
    ("quantitative without unit", [filled(计量单位="")], None, "计量单位", "必须填写计量单位"),
    ("qualitative with unit", [filled(指标性质="定性", 指标方向="定性", 指标值="应保尽保", 计量单位="%")], None,
     "计量单位", "定性指标不应有计量单位"),
    ("operator disagrees", [filled(指标方向="≤", 指标值="≥95")], None, "指标方向", "两者不一致"),
    ("unit disagrees", [filled(指标值="28.8万元", 计量单位="%")], None, "计量单位", "两者不一致"),
    ("placeholder", [filled(指标值="≥XX")], None, "指标值", "占位符"),
    ("target missing", [filled(指标值="")], None, "指标值", "请填写指标值"),
    ("basis kind unknown", [filled(指标来源类型="上级要求")], None, "指标来源类型", "无法识别"),
    ("basis titles missing", [filled(指标来源类型="政策文件；计划标准", 指标来源文件="某办法")], None,
     "指标来源文件", "来源文件只有 1 项"),
    ("basis title without kind", [filled(指标来源类型="")], None, "指标来源类型", "没有填写来源类型"),
    ("basis missing", [filled(指标来源类型="", 指标来源文件="")], None, "指标来源类型", "至少填写一条指标来源"),
    ("too many doc numbers", [filled(文号="甲〔2020〕1号；乙〔2021〕2号")], None, "文号", "文号有 2 个"),
    ("code format", [filled(指标编码="JY#001")], None, "指标编码", "编码只能由"),
    ("duplicate code", [filled(指标编码="N-1"), filled(指标编码="N-1", 三级指标名称="另一项")], None, "指标编码", "重复"),
    ("code of another department", [filled(指标编码="O-001")], None, "指标编码", "已属于部门 902"),
    ("code of a common indicator", [filled(指标编码="GX-001")], None, "指标编码", "已属于共性指标"),
    ("state unknown", [{**filled(), "状态": "删除"}], lambda rows: xlsx_bytes(rows, [*HEADERS, "状态"]), "状态", "无法识别"),
    ("row of another department", [{**filled(), "所属部门": "902"}], lambda rows: xlsx_bytes(rows, ["所属部门", *HEADERS]),
     "所属部门", "不是本次导入的部门"),
    ("required column missing", [filled()], _no_level2_column, "二级指标", "表中没有“二级指标”列"),
]


@pytest.mark.parametrize("rows, builder, column, expected", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_every_mistake_is_reported_where_it_is_and_nothing_changes(session, library, rows, builder, column, expected):
    content = (builder or xlsx_bytes)(rows)
    before = snapshot(session)
    with pytest.raises(ImportFailed) as caught:
        preview_import(session, FINANCE, content, "填好的模版.xlsx", "901")
    matching = [p for p in caught.value.problems if expected in p.message]
    assert matching, [str(p) for p in caught.value.problems]
    problem = matching[0]
    assert (problem.source, problem.field) == ("指标梳理表", column)
    assert problem.entry.startswith("第 ") and problem.entry.endswith(" 行")
    session.rollback()
    assert snapshot(session) == before


def test_all_problems_of_a_file_are_reported_at_once(session, library):
    rows = [filled(三级指标名称=""), filled(计量单位=""), filled(一级指标="投入指标"), filled()]
    with pytest.raises(ImportFailed) as caught:
        preview_import(session, FINANCE, xlsx_bytes(rows), "f.xlsx", "901")
    assert sorted({p.entry for p in caught.value.problems}) == ["第 3 行", "第 4 行", "第 5 行"]


def test_department_user_cannot_change_an_indicator_of_a_submitted_set_via_a_new_row(session, library, make_department,
                                                                                       make_indicator):
    # The department's own set is a draft, but a row may still name an indicator it may not edit.
    library.current_set.status = SetStatus.SUBMITTED
    session.commit()
    with pytest.raises(PermissionDenied):
        preview_import(session, department_actor(library), xlsx_bytes([existing_row(指标值=99)]), "f.xlsx", "901")


def test_only_examples_is_an_empty_import(session, library):
    from kb.spreadsheets.template import build_workbook, workbook_bytes

    with pytest.raises(ImportFailed) as caught:
        preview_import(session, FINANCE, workbook_bytes(build_workbook()), "模版.xlsx", "901")
    assert "没有填写任何指标" in caught.value.problems[0].message
    assert any("示例" in w.message for w in caught.value.warnings)


# ------------------------------------------------------------------ the preview's plan, kept until confirmation

def test_saved_plan_is_applied_without_reading_the_file_again(session, library, monkeypatch):
    from kb.services import imports

    content = xlsx_bytes([existing_row(指标值=99), filled()])
    plan = preview_import(session, FINANCE, content, "f.xlsx", "901")
    saved = imports.plan_from_json(imports.plan_to_json(plan))
    assert [(r.action, r.code, r.after) for r in saved.rows] == [(r.action, r.code, r.after) for r in plan.rows]
    session.rollback()
    monkeypatch.setattr(imports, "read_table", lambda *args: pytest.fail("the file was read again"))
    result = confirm_import(session, FINANCE, content, "f.xlsx", "901", plan.fingerprint, saved=saved)
    session.commit()
    assert (result.added, result.changed) == (1, 1)
    assert session.scalar(select(Indicator.target).where(Indicator.code == "T-001")) == "99"


def test_saved_plan_is_replanned_when_anything_changed(session, engine, library, monkeypatch):
    from kb.services import imports

    content = xlsx_bytes([existing_row(指标值=99)])
    plan = preview_import(session, FINANCE, content, "f.xlsx", "901")
    saved = imports.plan_from_json(imports.plan_to_json(plan))
    session.rollback()
    with make_session_factory(engine)() as other:  # an unrelated edit elsewhere in the library
        other.scalar(select(Indicator).where(Indicator.code == "O-001")).definition = "他局修改"
        other.commit()
    reads = []
    original = imports.read_table
    monkeypatch.setattr(imports, "read_table", lambda *args: reads.append(1) or original(*args))
    result = confirm_import(session, FINANCE, content, "f.xlsx", "901", plan.fingerprint, saved=saved)
    assert reads == [1] and result.changed == 1  # planned again, same effect: applied
    session.rollback()
    with make_session_factory(engine)() as other:  # now the indicator the file changes is edited
        other.scalar(select(Indicator).where(Indicator.code == "T-001")).definition = "别人改了"
        other.commit()
    with pytest.raises(PreviewOutdated):
        confirm_import(session, FINANCE, content, "f.xlsx", "901", plan.fingerprint, saved=saved)


def test_saved_plan_of_another_person_or_file_is_not_trusted(session, library):
    from kb.services import imports

    content = xlsx_bytes([existing_row(指标值=99)])
    plan = preview_import(session, FINANCE, content, "f.xlsx", "901")
    forged = imports.plan_from_json(imports.plan_to_json(plan))
    forged.rows[0].data["target"] = "1"  # a tampered plan for another file is ignored: the file decides
    other_file = xlsx_bytes([existing_row(指标值=98)])
    session.rollback()
    with pytest.raises(PreviewOutdated):
        confirm_import(session, FINANCE, other_file, "f.xlsx", "901", plan.fingerprint, saved=forged)
    session.rollback()
    someone = Actor("other", "finance", 9)
    result = confirm_import(session, someone, content, "f.xlsx", "901", plan.fingerprint, saved=forged)
    session.commit()
    assert result.changed == 1 and session.scalar(select(Indicator.target).where(Indicator.code == "T-001")) == "99"
    assert imports.plan_from_json("not json") is None and imports.plan_from_json('{"version": 2}') is None


def test_source_type_without_source_document_is_told_at_the_document_column(session, library):
    """Issue 16: a row with 指标来源类型 filled and 指标来源文件 empty was told the 指标来源类型 column is missing."""
    rows = [filled(指标来源文件="", 文号="")]
    with pytest.raises(ImportFailed) as caught:
        preview_import(session, FINANCE, xlsx_bytes(rows), "f.xlsx", "901")
    messages = [str(p) for p in caught.value.problems]
    assert not any("表中没有" in m for m in messages), messages
    [problem] = caught.value.problems
    assert problem.field == "指标来源文件" and "请填写指标来源文件" in problem.message and "没有填写指标来源文件" in problem.message
    session.rollback()

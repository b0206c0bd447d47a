"""The progress board, its Excel export, and the inbox (待办) of every role."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from kb.services.board import NOT_STARTED, board_workbook, progress_board
from kb.services.change_requests import propose_change
from kb.services.inbox import inbox, inbox_count
from kb.services.indicators import update_indicator
from kb.services.reviews import add_comment
from kb.services.workflow import return_set
from tests.conftest import indicator_data
from tests.kb.services.workflow_world import build_world


@pytest.fixture
def world(session, make_department, make_indicator):
    world = build_world(session, make_department, make_indicator)
    make_department("903", "测试未开始局", status=None, pilot=True)
    session.commit()
    return world


def test_board_rows_counts_and_status_summary(world):
    indicator_set = world.submitted()
    add_comment(world.session, world.a("expert"), indicator_set, "revise", "请细化", indicator_code="T-001")
    board = progress_board(world.session, today=dt.date.today() + dt.timedelta(days=3))
    rows = {row.code: row for row in board.rows}
    assert [row.code for row in board.rows][0] == "903"  # pilots first
    own = rows["901"]
    assert (own.status, own.total, own.counts["产出指标"], own.open_comments) == ("submitted", 2, 2, 1)
    assert own.days_in_state == 3 and own.experts == "expert" and own.published == ""
    assert rows["903"].status == NOT_STARTED and rows["903"].days_in_state is None
    assert board.status_counts == {"submitted": 1, "draft": 1, NOT_STARTED: 1}
    assert board.pilot_status_counts == {NOT_STARTED: 1}
    bars = board.chart(600)
    assert [bar["total"] for bar in bars] == [3, 1]
    assert sum(segment["width"] for segment in bars[0]["segments"]) == pytest.approx(600, abs=0.5)
    assert [row.code for row in progress_board(world.session, pilots_only=True).rows] == ["903"]
    assert [row.code for row in progress_board(world.session, status="draft").rows] == ["902"]


def test_board_excel_export(world):
    world.certified()
    world.session.execute(world.own.__table__.update().values(name="=HYPERLINK(\"x\")"))
    world.session.expire_all()
    workbook = load_workbook(io.BytesIO(board_workbook(progress_board(world.session))))
    sheet = workbook["推进情况"]
    header = [cell.value for cell in sheet[2]]
    assert header[:5] == ["部门编码", "部门名称", "主管部门", "试点", "状态"] and "指标合计" in header
    rows = {row[0]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows["901"][4] == "专家已审定" and rows["901"][-1] == "2025 年第 1 版"
    assert rows["901"][1].startswith("'=")  # a formula is written as text
    assert rows["901"][header.index("指标合计")] == 2
    summary = {row[0]: row[1] for row in workbook["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["专家已审定"] == 1 and summary["未建立指标集"] == 1


def kinds(world, role):
    return [item.kind for item in inbox(world.session, world.a(role))]


def test_inbox_follows_the_journey(world):
    assert kinds(world, "department") == ["to_submit"]
    indicator_set = world.submitted(experts=())
    assert kinds(world, "department") == []
    assert sorted(kinds(world, "finance")) == ["to_assign", "to_confirm"]
    world.session.rollback()
    indicator_set = world.submitted()
    assert kinds(world, "finance") == ["to_confirm"]
    assert kinds(world, "expert") == ["to_review"]
    assert kinds(world, "outsider_expert") == []
    comment = add_comment(world.session, world.a("expert"), indicator_set, "revise", "请细化", indicator_code="T-001")
    return_set(world.session, world.a("finance"), indicator_set, "请按专家意见修改")
    assert kinds(world, "department") == ["returned", "to_answer"]
    from kb.services.reviews import answer_comment

    answer_comment(world.session, world.a("department"), comment, "已细化")
    from kb.services.workflow import submit_set

    submit_set(world.session, world.a("department"), indicator_set)
    assert kinds(world, "expert") == ["to_review", "answered"]
    assert inbox_count(world.session, world.a("admin")) == 0


def test_inbox_reconfirm_overdue_and_change_requests(world, make_indicator):
    make_indicator(None, code="GX-001", name="资金到位率")
    indicator_set = world.submitted()
    t1 = next(i for i in world.own.indicators if i.code == "T-001")
    update_indicator(world.session, world.a("finance"), "T-001", indicator_data(code="T-001", name="改名"),
                     t1.row_version)
    assert "to_reconfirm" in kinds(world, "department")
    propose_change(world.session, world.a("department"), "retire", "GX-001", "已废止")
    later = dt.date.today() + dt.timedelta(days=30)
    items = inbox(world.session, world.a("finance"), today=later)
    assert [item.kind for item in items] == ["review_overdue", "to_confirm", "change_request"]
    assert items[0].urgent and "部门需先重新确认" in items[1].detail
    assert [item.urgent for item in inbox(world.session, world.a("expert"), today=later)] == [True]
    assert indicator_set.status.value == "submitted"


def test_days_in_state_of_a_returned_draft_count_from_the_return(world):
    indicator_set = world.submitted()
    return_set(world.session, world.a("finance"), indicator_set, "请补充满意度指标")
    world.session.commit()
    row = next(r for r in progress_board(world.session, today=dt.date.today() + dt.timedelta(days=2)).rows
               if r.code == "901")
    assert (row.status, row.days_in_state) == ("draft", 2)

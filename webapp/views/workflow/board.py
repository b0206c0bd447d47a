"""推进情况：the county-wide progress board and its Excel export (routes of the ``workflow`` blueprint)."""
from __future__ import annotations

from flask import Response, render_template, request

from kb.services.board import STATUS_ORDER, board_workbook, progress_board, status_label
from webapp.db import get_session
from webapp.permissions import SIGNED_IN, register
from webapp.templating import local_time
from webapp.views.workflow import bp

register({"workflow.board": SIGNED_IN, "workflow.board_export": SIGNED_IN})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filters() -> dict:
    status = request.args.get("status") or None
    return {"pilots_only": request.args.get("pilots") == "1", "status": status if status in STATUS_ORDER else None}


@bp.get("/board")
def board():
    """全县各部门指标体系梳理推进情况。"""
    filters = _filters()
    data = progress_board(get_session(), **filters)
    return render_template("workflow/board.html", board=data, filters=filters, statuses=STATUS_ORDER,
                           status_label=status_label, chart=data.chart(600))


@bp.get("/board.xlsx")
def board_export():
    """推进情况导出为 Excel。"""
    data = progress_board(get_session(), **_filters())
    filename = f"推进情况-{local_time(data.generated_at, '%Y%m%d')}.xlsx"  # the date the page shows
    return Response(board_workbook(data), mimetype=XLSX, headers={
        "Content-Disposition": f"attachment; filename=board.xlsx; filename*=UTF-8''{_quote(filename)}"})


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text)

"""The monitoring board: lights by department and by light, 整体监控, the change of warning rates
against the previous round (with an SVG chart drawn on the server) and the 监控表 export."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, render_template, request

from kb import permissions
from kb.services import monitoring
from kb.services.monitoring_board import (KINDS, WARNING_COLOURS, monitoring_workbook, previous_round, rate_changes,
                                          rate_chart, round_board)
from kb.services.monitoring_lights import percent_text, time_progress
from kb.models.monitoring import Light
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.views.monitoring import bp, load_round, visible_department

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _boards(round_id: int):
    session = get_session()
    monitoring_round = load_round(round_id)
    department_id = visible_department()
    board = round_board(session, monitoring_round, department_id)
    compare_id = request.args.get("compare", type=int)
    earlier = monitoring.get_round(session, compare_id) if compare_id else previous_round(session, monitoring_round)
    if earlier is not None and earlier.id == monitoring_round.id:
        earlier = None
    changes = rate_changes(round_board(session, earlier, department_id), board) if earlier is not None else []
    return monitoring_round, board, earlier, changes


@bp.get("/<int:round_id>/board")
def board(round_id: int):
    """监控看板：各部门红黄绿灯、部门整体监控、预警率变化。"""
    monitoring_round, data, earlier, changes = _boards(round_id)
    others = [r for r in monitoring.list_rounds(get_session()) if r.id != monitoring_round.id]
    return render_template("monitoring/board.html", round=monitoring_round, board=data, earlier=earlier,
                           changes=changes, chart=rate_chart(changes) if changes else [], kinds=KINDS,
                           lights=(Light.RED, Light.YELLOW, Light.GREEN), warning_colours=WARNING_COLOURS,
                           others=others, progress=percent_text(time_progress(monitoring_round.cut_off)),
                           percent_text=percent_text,
                           can_manage=permissions.can_manage_monitoring(current_actor()))


@bp.get("/<int:round_id>/board.xlsx")
def board_export(round_id: int):
    """导出监控表（项目、指标、部门整体、预警率变化）为 Excel。"""
    monitoring_round, data, _, changes = _boards(round_id)
    filename = f"监控表-{monitoring_round.name}.xlsx"
    return Response(monitoring_workbook(data, changes), mimetype=XLSX, headers={
        "Content-Disposition": f"attachment; filename=monitoring.xlsx; filename*=UTF-8''{quote(filename)}"})

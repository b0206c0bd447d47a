"""运行监控: finance opens and closes monitoring rounds, departments fill in their projects, everyone
with a stake reads the board (lights by department, warning rates, chart, 监控表 export).

One blueprint; its routes live in ``rounds`` (list, open, close, follow-up, light rules), ``entries``
(a round's projects, filling one in, the Excel import) and ``board`` (the board and its export)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select

from kb import permissions
from kb.errors import PermissionDenied
from kb.models import MonitoringEntry, MonitoringRound
from kb.services import monitoring
from kb.vocab import Role
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.permissions import NOT_FOUND, SIGNED_IN, allow, register, register_scope

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")

# Finance runs rounds and rules; departments fill their own projects (finance may help); everyone reads,
# a department only its own projects (the views narrow what they show).
FILLERS = (Role.DEPARTMENT, Role.FINANCE)
register({
    "monitoring.index": SIGNED_IN,
    "monitoring.open_round": allow(Role.FINANCE, write=True),
    "monitoring.close_round": allow(Role.FINANCE, write=True),
    "monitoring.follow_up": allow(Role.FINANCE, write=True),
    "monitoring.rules": SIGNED_IN,
    "monitoring.save_rules": allow(Role.FINANCE, write=True),
    "monitoring.rules_export": SIGNED_IN,
    "monitoring.round": SIGNED_IN,
    "monitoring.entry": allow(scope="monitoring_entry"),
    "monitoring.fill": allow(*FILLERS, scope="monitoring_entry", write=True),
    "monitoring.import_execution": allow(*FILLERS, write=True),
    "monitoring.board": SIGNED_IN,
    "monitoring.board_export": SIGNED_IN,
})


def _entry_scope(view_args: dict[str, Any]) -> object:
    department_id = get_session().scalar(
        select(MonitoringEntry.department_id).where(MonitoringEntry.id == view_args.get("entry_id"),
                                                    MonitoringEntry.round_id == view_args.get("round_id")))
    return NOT_FOUND if department_id is None else department_id


register_scope("monitoring_entry", _entry_scope)


def load_round(round_id: int) -> MonitoringRound:
    """The round (404) if the current user may read monitoring at all (403 otherwise)."""
    monitoring_round = monitoring.get_round(get_session(), round_id)
    if not permissions.can_view_monitoring(current_actor()):
        raise PermissionDenied("您的角色没有权限查看运行监控。")
    return monitoring_round


def visible_department() -> int | None:
    """The department a user is narrowed to (its own), ``None`` for overseers."""
    actor = current_actor()
    return actor.department_id if permissions.sees_only_own_department(actor) else None


from webapp.views.monitoring import board, entries, rounds  # noqa: E402,F401  (routes attach to bp)

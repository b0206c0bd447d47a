"""审计日志：the append-only audit log for administrators, with filters. Read-only: there is no
route that edits or deletes a row (and the models and database refuse it too)."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import Blueprint, g, render_template, request
from sqlalchemy import func, select

from kb.models import AuditEntry
from kb.services.audit import record_change, set_request_id
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.permissions import AUDIT, register
from webapp.templating import LOCAL_TIME
from webapp.views import readable

bp = Blueprint("audit", __name__, url_prefix="/audit")
register({"audit.index": AUDIT, "audit.detail": AUDIT})  # 审计管理员 (三员分立)
PAGE_SIZE = 50
MAX_PAGE = 1_000_000  # far past any real log; a bigger number is a typo or a probe (issue 14 item 11)

# Labels live with the other readable forms (webapp/views/readable.py); kept here for importers.
ACTION_LABELS, ENTITY_LABELS = readable.ACTION_LABELS, readable.ENTITY_LABELS


@bp.before_app_request
def _request_id() -> None:
    # Our own id for every request (a client-sent one is not trusted in a forensic log); written into
    # each audit row of the request and returned in X-Request-Id for the user's error report.
    g.request_id = uuid.uuid4().hex
    set_request_id(g.request_id)


@bp.after_app_request
def _echo_request_id(response):
    if g.get("request_id"):
        response.headers["X-Request-Id"] = g.request_id
    return response


def _date(name: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return day if dt.date(1900, 1, 1) <= day < dt.date(9999, 1, 1) else None  # “the day after” must exist


def _start_of(day: dt.date) -> dt.datetime:
    """Local midnight (Beijing time) as UTC, so a date filter means the user's calendar day."""
    return dt.datetime.combine(day, dt.time(), LOCAL_TIME).astimezone(dt.timezone.utc)


@bp.get("/")
def index():
    """审计日志（只读，可按人员、操作、对象和日期筛选）。"""
    session = get_session()
    filters = {key: request.args.get(key, "").strip() for key in ("actor", "action", "entity_type", "key")}
    date_from, date_to = _date("from"), _date("to")
    query = select(AuditEntry)
    if filters["actor"]:
        query = query.where(AuditEntry.actor == filters["actor"])
    if filters["action"]:
        query = query.where(AuditEntry.action == filters["action"])
    if filters["entity_type"]:
        query = query.where(AuditEntry.entity_type == filters["entity_type"])
    if filters["key"]:
        query = query.where(AuditEntry.entity_key.contains(filters["key"], autoescape=True))
    if date_from:
        query = query.where(AuditEntry.at >= _start_of(date_from))
    if date_to:
        query = query.where(AuditEntry.at < _start_of(date_to + dt.timedelta(days=1)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    page = min(max(1, request.args.get("page", 1, type=int)), MAX_PAGE)
    entries = session.scalars(query.order_by(AuditEntry.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    actions = session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).all()
    types = session.scalars(select(AuditEntry.entity_type).distinct().order_by(AuditEntry.entity_type)).all()
    # Reading the audit log is itself audited (等保: the audit administrator's actions are recorded).
    record_change(session, current_actor(), "view", "audit_log", "查询",
                  after={**{k: v for k, v in filters.items() if v},
                         **({"from": date_from.isoformat()} if date_from else {}),
                         **({"to": date_to.isoformat()} if date_to else {})})
    session.commit()
    return render_template(
        "workflow/audit.html", entries=entries, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
        filters=filters, date_from=request.args.get("from", ""), date_to=request.args.get("to", ""),
        actions=actions, types=types, action_labels=ACTION_LABELS, entity_labels=ENTITY_LABELS,
    )


@bp.get("/<int:entry_id>")
def detail(entry_id: int):
    """一条审计记录的完整内容（修改前/修改后）。"""
    from kb.errors import NotFound

    entry = get_session().get(AuditEntry, entry_id)
    if entry is None:
        raise NotFound(f"审计记录 {entry_id} 不存在。")
    return render_template("workflow/audit_detail.html", entry=entry, action_labels=ACTION_LABELS,
                           entity_labels=ENTITY_LABELS, fields=readable.compare(entry.before, entry.after),
                           before=_pretty(entry.before), after=_pretty(entry.after))


def _pretty(value) -> str:
    import json

    return "（无）" if value is None else json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)

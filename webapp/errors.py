"""Domain errors and HTTP errors → Chinese pages (or JSON under ``/api/``).

``NotFound`` → 404, ``PermissionDenied`` → 403, ``EditConflict``/``InvalidTransition`` → 409,
``ValidationFailed`` → 422. Views may simply let these propagate; views that want to show the
problems next to the form fields catch ``ValidationFailed`` themselves. Every 403 is written to
the audit log in its own short transaction (the business transaction was rolled back).
"""
from __future__ import annotations

import sqlite3
import uuid

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from kb.errors import EditConflict, InvalidTransition, KbError, NotFound, PermissionDenied, ValidationFailed
from kb.services.accounts import safe_name
from kb.services.audit import Actor, record_change

TITLES = {
    400: "请求无效",
    401: "请先登录",
    403: "没有权限",
    404: "找不到页面",
    405: "操作方式不对",
    409: "内容已被他人修改",
    413: "文件太大",
    422: "填写的内容有问题",
    429: "操作过于频繁",
    500: "系统出错了",
    503: "系统繁忙",
}
HELP = {
    400: "请返回上一页刷新后重试。",
    403: "如需此权限，请联系县财政局绩效股或系统管理员。",
    404: "链接可能已过期或输入有误。可以用上方的检索框查找指标，或从“部门”进入。",
    405: "请从页面上的按钮进行操作。",
    413: "上传的文件超过了允许的大小，请拆分后再上传。",
    500: "请稍后重试；如果问题持续，请把下方的“错误编号”告诉系统管理员。",
    503: "您的操作没有保存。请稍后再试（通常几秒钟即可）；如果问题持续，请联系系统管理员。",
}
DATABASE_BUSY = "数据库正忙（其他人正在保存或系统正在维护），您的操作没有完成，请稍后再试。"
RETRY_AFTER_SECONDS = 5


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def render_error(status: int, message: str, **extra):
    """The Chinese error page (or ``{"message": …}`` JSON) with ``status``."""
    if wants_json():
        response = jsonify({"message": message, **extra})
        response.status_code = status
        return response
    return render_template("errors/error.html", status=status, title=TITLES.get(status, "出错了"),
                           message=message, help=HELP.get(status, ""), **extra), status


def record_denial(message: str, action: str = "denied", result: str = "refused") -> None:
    """Write a 403 (or, with ``action``/``result``, another refusal such as a 409 save) to the audit
    log in a separate transaction (SEC-AZ-6, issue 14 item 10)."""
    user = g.get("user")
    actor = Actor.of(user, request.remote_addr or "") if user else Actor("(未登录)", "", remote_addr=request.remote_addr or "")
    sessions = current_app.extensions["kb"].sessions
    try:
        with sessions() as session:
            record_change(session, actor, action, "route", safe_name(request.endpoint or request.path)[:100],
                          summary=f"{request.method} {safe_name(request.path)}：{message}", result=result)
            session.commit()
    except Exception:  # the refusal itself must still happen; the failure is logged for the operator
        current_app.logger.exception("could not write the audit row of a refusal")


def denied(message: str):
    record_denial(message)
    return render_error(403, message)


def _kb_error(error: KbError):
    if isinstance(error, NotFound):
        return render_error(404, error.message)
    if isinstance(error, PermissionDenied):
        return denied(error.message)
    if isinstance(error, EditConflict):
        record_denial(error.message, "save_conflict", "conflict")
        changes = {field: {"before": before, "after": after} for field, (before, after) in error.changes.items()}
        return render_error(409, error.message, changes=changes, current_version=error.current_version)
    if isinstance(error, InvalidTransition):
        return render_error(409, error.message)
    if isinstance(error, ValidationFailed):
        problems = [{"message": p.message, "field": p.field, "entry": p.entry, "source": p.source}
                    for p in error.problems]
        return render_error(422, error.message, problems=problems)
    return render_error(400, error.message)


def _stale_data(error: StaleDataError):
    """A concurrent save that slipped past the service's own version check (row_version in the UPDATE)."""
    from webapp.db import get_session

    # The failed flush left the request's transaction unusable; the page (signed-in user, menu) reads again.
    get_session().rollback()
    record_denial("并发修改，保存被拒绝", "save_conflict", "conflict")
    return render_error(409, "您保存的内容已被他人同时修改，您的修改没有保存。请刷新页面查看最新内容后再操作。")


def _database_error(error: Exception):
    """SQLite's "database is locked" after the busy timeout: 503 and a retry, not a 500.

    The driver's own error arrives unwrapped when the lock is taken in kb.db's BEGIN IMMEDIATE hook.
    """
    from webapp.db import get_session

    if not is_database_busy(error):
        raise error
    get_session().rollback()
    current_app.logger.warning("database busy on %s %s: %s", request.method, request.path, error)
    response = current_app.make_response(render_error(503, DATABASE_BUSY))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def is_database_busy(error: Exception) -> bool:
    """SQLite's lock timeout (PostgreSQL's lock_timeout too, should a deployment set one)."""
    text = str(getattr(error, "orig", None) or error).lower()
    return "database is locked" in text or "database is busy" in text or "lock timeout" in text


def _csrf_error(error: CSRFError):
    return render_error(400, "页面已过期或来源无法验证（CSRF 校验失败）。请刷新页面后重新提交。")


def _http_error(error: HTTPException):
    status = error.code or 500
    if status == 500:
        return _server_error(error)
    if status == 404:
        return render_error(404, "您要找的页面不存在。")
    if status == 405:
        return render_error(405, "不支持这种访问方式。")
    if status == 413:
        return render_error(413, "上传内容太大。")
    messages = (getattr(error, "data", None) or {}).get("messages")
    if status == 422 and messages:  # request parameters refused by the API's schemas (webargs)
        return render_error(422, "请求参数有误：" + _flatten(messages), errors=messages)
    return render_error(status, TITLES.get(status, "请求无效") if status >= 400 else str(error.description))


def _flatten(messages) -> str:
    if isinstance(messages, dict):
        return "；".join(f"{key}：{_flatten(value)}" if key not in ("query", "json", "form") else _flatten(value)
                        for key, value in messages.items())
    if isinstance(messages, list):
        return "；".join(_flatten(item) for item in messages)
    return str(messages)


def _server_error(error: HTTPException):
    reference = uuid.uuid4().hex[:8]
    original = getattr(error, "original_exception", None) or error
    current_app.logger.error("error %s on %s %s", reference, request.method, request.path, exc_info=original)
    return render_error(500, "系统处理您的请求时出错了，您的操作可能没有完成。", reference=reference)


class BoundedInt(IntegerConverter):
    """``<int:…>`` up to the largest database integer: a bigger id in a URL is simply not found
    (not an OverflowError in the database driver, a 500; issue 14 item 11)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's parameter name
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _out_of_range(error: Exception):
    """A number from the request too large for the database (a form or query value no view bounded)."""
    from webapp.db import get_session

    get_session().rollback()
    return render_error(400, "输入的数值超出允许范围，请检查后重新填写。")


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedInt  # before the blueprints add their routes
    app.register_error_handler(OverflowError, _out_of_range)  # SQLite's driver
    app.register_error_handler(DataError, _out_of_range)  # PostgreSQL: numeric value out of range
    app.register_error_handler(KbError, _kb_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(StaleDataError, _stale_data)
    app.register_error_handler(OperationalError, _database_error)
    app.register_error_handler(sqlite3.OperationalError, _database_error)
    # Unhandled exceptions arrive as InternalServerError (500) when not testing; tests see them raised.
    app.register_error_handler(HTTPException, _http_error)

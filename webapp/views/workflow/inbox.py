"""待办：what waits for the signed-in user (a route of the ``workflow`` blueprint)."""
from __future__ import annotations

from flask import render_template, url_for

from kb.services.inbox import inbox as inbox_items
from kb.services.inbox import inbox_count
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.permissions import SIGNED_IN, register
from webapp.templating import register_badge
from webapp.views.workflow import bp

register({"workflow.inbox": SIGNED_IN})
register_badge("workflow.inbox", lambda: inbox_count(get_session(), current_actor()))


def target_url(target: tuple[str, int]) -> str:
    kind, identifier = target
    if kind == "change_request":
        return url_for("workflow.change_detail", request_id=identifier)
    if kind == "goal":
        return url_for("goals.view", goal_id=identifier)
    return url_for("workflow.set_detail", set_id=identifier)


@bp.get("/inbox")
def inbox():
    """我的待办。"""
    items = inbox_items(get_session(), current_actor())
    return render_template("workflow/inbox.html", items=[(item, target_url(item.target)) for item in items])

"""What every template gets: the navigation, the signed-in user, and a few safe filters."""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request
from markupsafe import Markup, escape

from webapp.permissions import can_open

LOCAL_TIME = ZoneInfo("Asia/Shanghai")

# (endpoint, label): an item shows only when its endpoint exists and the user may open it.
NAV: tuple[tuple[str, str], ...] = (
    ("search.index", "检索"),
    ("departments.index", "部门"),
    ("indicators.common", "共性指标"),
    ("indicators.compare", "比较"),
    ("goals.index", "目标申报"),
    ("selfeval.index", "绩效自评"),
    ("workflow.board", "推进情况"),
    ("monitoring.index", "运行监控"),
    ("search_insights.index", "检索分析"),
    ("workflow.inbox", "待办"),
    ("workflow.changes", "变更申请"),
    ("sheets.index", "模版导入"),
    ("synonyms.index", "同义词"),
    ("audit.index", "审计日志"),
    ("admin.users", "账户管理"),
    ("admin.security", "安全管理"),
    ("personal.index", "我的"),
)

# Highlight markers a backend may emit around matched terms; everything else is escaped.
_MARK = re.compile(r"&lt;(/?)(?:mark|b|strong|em)(?: class=&#34;[\w -]*&#34;| class=&#39;[\w -]*&#39;)?&gt;")


def highlight(text: str | None) -> Markup:
    """Search highlight HTML reduced to escaped text plus ``<mark>`` (user data stays plain text)."""
    escaped = str(escape(text or ""))
    return Markup(_MARK.sub(lambda m: f"<{m.group(1)}mark>", escaped))


def local_zone() -> ZoneInfo:
    """The users' time zone (setting ``KB_TIMEZONE``, Beijing time unless set otherwise)."""
    name = current_app.config.get("KB_TIMEZONE") if current_app else None
    return ZoneInfo(name) if name else LOCAL_TIME


def local_today() -> dt.date:
    """Today on the users' calendar: export file names carry the date the pages show."""
    return dt.datetime.now(local_zone()).date()


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC timestamp shown in the users' time zone (Beijing time)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(local_zone()).strftime(fmt)


# Blueprints with several items (workflow: 推进情况, 待办), worked out once rather than per item and page.
_SHARED_BLUEPRINTS = frozenset(
    blueprint for blueprint, count in Counter(endpoint.split(".")[0] for endpoint, _ in NAV).items() if count > 1)


def _is_active(endpoint: str, blueprint: str) -> bool:
    """The item of the current page; a blueprint with several items marks only the exact page, or
    none of them on its other pages."""
    if endpoint == request.endpoint:
        return True
    return blueprint not in _SHARED_BLUEPRINTS and endpoint.split(".")[0] == blueprint


# endpoint → a function counting what waits for the signed-in user there (shown next to the nav item).
BADGES: dict[str, Callable[[], int]] = {}


def register_badge(endpoint: str, counter: Callable[[], int]) -> None:
    """Show ``counter()`` next to the nav item of ``endpoint`` (e.g. 待办 and its open items)."""
    BADGES[endpoint] = counter


def _badge(endpoint: str) -> int:
    counter = BADGES.get(endpoint)
    if counter is None:
        return 0
    try:
        return counter()
    except Exception:  # a badge must never break a page (error pages render the nav too)
        current_app.logger.exception("nav badge for %s failed", endpoint)
        return 0


def nav_items() -> list[dict[str, object]]:
    if g.get("user") is None:
        return []
    current = request.blueprint or ""
    return [
        {"endpoint": endpoint, "label": label, "active": _is_active(endpoint, current), "badge": _badge(endpoint)}
        for endpoint, label in NAV
        if can_open(endpoint)
    ]


def init_app(app: Flask) -> None:
    app.add_template_filter(highlight)
    app.add_template_filter(local_time)
    app.jinja_env.globals["can_open"] = can_open

    @app.context_processor
    def inject():
        return {"current_user": g.get("user"), "nav_items": nav_items}

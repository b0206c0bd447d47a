"""检索分析 (finance): what officers search for and do not find, from the query log; and the small
endpoint through which the search page reports the hit an officer opened or copied."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from kb.errors import PermissionDenied
from kb.models.base import utcnow
from kb.permissions import can_view_search_insights
from kb.searching import guessed_terms, search_indicators
from kb.services import query_log, rejected_guesses
from kb.services import synonyms as synonyms_service
from kb.visibility import hidden_for
from kb.vocab import Role
from search.analysis import normalize
from webapp.auth import current_actor
from webapp.db import get_search, get_session
from webapp.permissions import SIGNED_IN, allow, register
from webapp.lookups import department_names
from webapp.query_logging import entry_of
from webapp.templating import local_zone
from webapp.views.synonyms import can_edit_groups

bp = Blueprint("search_insights", __name__)
register({
    "search_insights.index": allow(Role.FINANCE, Role.ADMIN),
    "search_insights.query": allow(Role.FINANCE, Role.ADMIN),
    "search_insights.opened": SIGNED_IN,
})
PERIODS = (7, 30, 90, 180)  # days the page offers
DEFAULT_PERIOD = 30
FEW_HITS_CHOICES = (1, 3, 5, 10)
# The hits a query's page shows, and whose guessed words it offers as synonyms.
QUERY_HITS = 10
# The chart (inline SVG: nothing from a CDN, nothing inline for the CSP to refuse): plot area in px.
CHART_WIDTH, CHART_HEIGHT, CHART_LEFT, CHART_BOTTOM = 720, 180, 36, 22


def _choice(name: str, choices: tuple[int, ...], default: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    return value if value in choices else default


def _require_insights() -> None:
    if not can_view_search_insights(current_actor()):
        raise PermissionDenied("检索分析仅供财政人员和管理员查看。")


@bp.get("/search-insights")
def index():
    """检索分析：无结果、少结果、从未打开结果的检索词及每日检索量。"""
    _require_insights()
    session = get_session()
    days = _choice("days", PERIODS, DEFAULT_PERIOD)
    few = _choice("few", FEW_HITS_CHOICES, query_log.FEW_HITS)
    now = utcnow()
    since = now - dt.timedelta(days=days)
    per_day = query_log.searches_per_day(session, since, local_zone(), until=now)
    return render_template(
        "search_insights/index.html", days=days, periods=PERIODS, few=few, few_choices=FEW_HITS_CHOICES,
        zero=query_log.zero_hit_queries(session, since), few_hits=query_log.few_hit_queries(session, since, few),
        unopened=query_log.unopened_queries(session, since), per_day=per_day,
        chart=chart(per_day), total=sum(day.searches for day in per_day), zero_total=sum(day.zero_hits for day in per_day),
        retention=current_app.config["KB_QUERY_LOG_DAYS"], oldest=query_log.oldest_entry_at(session),
    )


@bp.get("/search-insights/query")
def query():
    """处理一个检索词：现在的检索结果、检索引擎自行猜测的相关词（可一键确认为同义词组）、已起作用的同义词组。"""
    _require_insights()
    q = request.args.get("q", "").strip()[:query_log.QUERY_LENGTH]
    if not q:
        return redirect(url_for("search_insights.index"))
    session = get_session()
    result = search_indicators(session, get_search(), q, limit=QUERY_HITS, hidden=hidden_for(session, current_actor()))
    guesses = guessed_terms(result["hits"])
    words = [word for guess in guesses for word in (guess["source"], guess["term"])]
    grouped = synonyms_service.groups_of_words(session, words)
    for guess in guesses:  # a word already in a group goes into that group, not into a new one
        guess["group"] = grouped.get(normalize(guess["source"])) or grouped.get(normalize(guess["term"]))
    typed = normalize(q)
    rejections = [guess for guess in rejected_guesses.list_rejections(session) if guess.source in typed]
    days = _choice("days", PERIODS, DEFAULT_PERIOD)
    askers = query_log.askers(session, q, utcnow() - dt.timedelta(days=days))
    return render_template("search_insights/query.html", q=q, result=result, guesses=guesses, rejections=rejections,
                           acting=synonyms_service.groups_in_text(session, q), can_edit=can_edit_groups(),
                           back=url_for("search_insights.query", q=q, days=days), days=days, askers=askers,
                           department_names=department_names(session), role_labels=Role.labels())


def chart(per_day: list[query_log.DayCount]) -> dict:
    """Bars (searches per day, the zero-hit part drawn over them) and a line of the zero-hit share
    (0–100 % on the right axis), as SVG coordinates."""
    width = CHART_WIDTH - CHART_LEFT * 2
    top = max([day.searches for day in per_day] + [1])
    step = width / max(len(per_day), 1)
    bars, points = [], []
    for index, day in enumerate(per_day):
        x = CHART_LEFT + index * step
        height = CHART_HEIGHT * day.searches / top
        zero_height = CHART_HEIGHT * day.zero_hits / top
        bars.append({"x": round(x + step * 0.1, 1), "width": round(max(step * 0.8, 1), 1),
                     "y": round(CHART_HEIGHT - height, 1), "height": round(height, 1),
                     "zero_y": round(CHART_HEIGHT - zero_height, 1), "zero_height": round(zero_height, 1),
                     "title": f"{day.day:%m-%d}：检索 {day.searches} 次，无结果 {day.zero_hits} 次"})
        if day.searches:
            points.append((round(x + step / 2, 1), round(CHART_HEIGHT * (1 - day.zero_share), 1)))
    labels = [{"x": round(CHART_LEFT + i * step + step / 2, 1), "text": f"{day.day:%m-%d}"}
              for i, day in enumerate(per_day) if i % max(1, len(per_day) // 6) == 0]
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT + CHART_BOTTOM, "plot_height": CHART_HEIGHT,
            "left": CHART_LEFT, "right": CHART_WIDTH - CHART_LEFT, "top": top, "bars": bars,
            "share_line": " ".join(f"{x},{y}" for x, y in points), "share_points": points, "labels": labels}


@bp.post("/search/opened")
def opened():
    """记录检索结果中第一个被打开或复制的指标（检索页的脚本发送；一条 UPDATE）。"""
    entry_id = entry_of(request.form.get("ref", ""))
    try:
        rank = int(request.form.get("rank", ""))
    except ValueError:
        rank = 0
    if entry_id is None or not 1 <= rank <= query_log.MAX_RANK:
        return {"message": f"参数无效：ref 应为检索页给出的检索编号，rank 为 1–{query_log.MAX_RANK} 的名次。"}, 400
    session = get_session()
    query_log.record_open(session, entry_id, rank)
    session.commit()
    return "", 204

"""检索：the search page (one box on every page, facets, highlights, did-you-mean, pagination)."""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, render_template, request, url_for
from sqlalchemy import func, select

from kb.models import Department, Indicator
from kb.searching import FILTER_KEYS, search_indicators
from kb.visibility import hidden_for
from webapp.auth import current_actor
from webapp.db import get_search, get_session
from webapp.query_logging import log_search

bp = Blueprint("search", __name__)
PAGE_SIZE = 20
FACET_TITLES = {
    "level1": "一级指标",
    "level2": "二级指标",
    "department": "部门",
    "nature": "指标性质",
    "unit": "计量单位",
    "status": "指标集状态",
    "state": "使用状态",
    "kind": "共性/个性",
}
EXAMPLES = ("高血压 管理", "学生资助", "满意度", "道路 养护", "预算执行率")
# A pasted project description is searched up to this many characters (the planner keeps its most telling
# words anyway); longer text is cut, and the page says so.
MAX_QUERY = 2000
# Links (facets, pages, 您是不是要找) carry the query in the URL: beyond this many characters a server
# refuses the URL (HTTP 414), so the box posts long text and links carry its beginning.
LINK_QUERY = 200
LOG_KEY = "ql"  # the page links' parameter carrying the search's query-log reference


def _params() -> dict[str, str]:
    """The search's parameters: from the URL, or from the form when long text was posted."""
    source = request.form if request.method == "POST" else request.args
    return {key: value for key, value in source.items() if value and key != "csrf_token"}


# url_for's own query encoding (werkzeug's _urlencode): the links come out exactly as url_for made them.
_URL_SAFE = "!$'()*,/:;?@"


def search_links(params: dict[str, str]) -> Callable[..., str]:
    """``search_url(**changes)``: this search with some parameters changed (None removes one); filters
    reset the page. The route is built once per page, not for each of its ~20 facet and page links."""
    base = url_for("search.index")
    encoded: dict[tuple[str, object], str] = {}  # "key=value" per pair: the query text is encoded once a page

    def encode(pair: tuple[str, object]) -> str:
        if pair not in encoded:
            encoded[pair] = urlencode((pair,), safe=_URL_SAFE)
        return encoded[pair]

    def search_url(**changes) -> str:
        args = dict(params)
        if any(key in FILTER_KEYS or key == "q" for key in changes):
            args.pop("page", None)
            args.pop(LOG_KEY, None)  # another search: logged afresh
        for key, value in changes.items():
            if value is None:
                args.pop(key, None)
            else:
                args[key] = value
        if "q" in args:
            args["q"] = args["q"][:LINK_QUERY]
        return f"{base}?{'&'.join(map(encode, args.items()))}" if args else base

    return search_url


@bp.route("/", methods=["GET", "POST"])
def index():
    """指标检索（长文本由检索框以 POST 提交，见 static/js/app.js）。"""
    session = get_session()
    params = _params()
    typed = params.get("q", "").strip()
    q = typed[:MAX_QUERY]
    notices = []
    if len(typed) > MAX_QUERY:
        notices.append(f"检索内容共 {len(typed)} 字，已按前 {MAX_QUERY} 字检索。")
    if len(q) > LINK_QUERY:
        notices.append(f"检索内容较长（{len(q)} 字）：本页按全文检索；筛选、翻页等链接按前 {LINK_QUERY} 字重新检索。")
    filters = {key: params.get(key, "").strip() for key in FILTER_KEYS if params.get(key, "").strip()}
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    if not q and not filters:
        stats = {
            "indicators": session.scalar(select(func.count()).select_from(Indicator)),
            "departments": session.scalar(select(func.count()).select_from(Department)),
            "common": session.scalar(select(func.count()).select_from(Indicator).where(Indicator.department_id.is_(None))),
        }
        return render_template("search/home.html", examples=EXAMPLES, stats=stats)
    # One query path: the hits carry what the page shows and the labels of every facet value.
    result = search_indicators(session, get_search(), q, filters=filters, limit=PAGE_SIZE,
                               offset=(page - 1) * PAGE_SIZE, details=True,
                               hidden=hidden_for(session, current_actor()))
    # 检索日志: a new search is logged once; its signed reference (kept by the page links) lets a page
    # report the hit opened. A later page or the way back to page 1 is the same search, not a new one.
    log_ref = params.get(LOG_KEY) or (log_search("page", q, filters, result["total"]) if page == 1 else None)
    labels = result["labels"]
    pages = max(1, -(-result["total"] // PAGE_SIZE))
    facets = []
    for facet, title in FACET_TITLES.items():
        counts = result.get("facets", {}).get(facet) or {}
        if not counts:
            continue
        values = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        facets.append({
            "name": facet,
            "title": title,
            "values": [{"value": value, "label": labels[facet].get(value, value), "count": count,
                        "selected": filters.get(facet) == value} for value, count in values],
        })
    search_url = search_links(params)
    chips = [{"facet": FACET_TITLES[key], "label": labels[key].get(value, value), "remove": search_url(**{key: None})}
             for key, value in filters.items()]
    return render_template("search/results.html", q=q, result=result, facets=facets, chips=chips, page=page,
                           pages=pages, search_url=search_url, examples=EXAMPLES,
                           notices=notices, log_ref=log_ref,
                           rank_offset=(page - 1) * PAGE_SIZE)

"""Every route of the web app × every role × own / other department, from an expectation written
here independently of ``webapp/permissions.py``: a row changed there without changing this test fails.

Department users belong to department 901 ("own"); 902 is "other"; CM-1 is a common indicator.
"""
from __future__ import annotations

import functools
import time

import pytest
from kb.models import Department, Indicator, IndicatorSet, User
from kb.models.base import utcnow
from kb.schemas import IndicatorSchema
from kb.services.library import apply_indicator_fields
from kb.services.users import hash_password
from kb.vocab import Role, SetStatus
from sqlalchemy import select, update

from tests.conftest import indicator_data

ROLES = ("department", "finance", "expert", "admin")
RELATIONS = ("own", "other")
BOTH = {"own", "other"}
EVERYONE = {role: BOTH for role in ROLES}
OWN_WRITE = {"department": {"own"}, "finance": BOTH, "admin": BOTH, "expert": set()}
FINANCE_WRITE = {"department": set(), "finance": BOTH, "admin": BOTH, "expert": set()}
ADMIN_ONLY = {"department": set(), "finance": set(), "expert": set(), "admin": BOTH}
COPIERS = {"department": BOTH, "finance": BOTH, "admin": BOTH, "expert": set()}
INSIGHT_READERS = {"department": set(), "finance": BOTH, "admin": BOTH, "expert": set()}  # 检索分析, read-only
DRAFT_READERS = {"department": {"own"}, "finance": BOTH, "admin": BOTH, "expert": set()}
REFUSED = 403


def form(code: str, **overrides) -> dict:
    """A complete indicator form as the page posts it (so an allowed write really succeeds)."""
    data = indicator_data(code=code, **overrides)
    fields = {k: v for k, v in data.items() if isinstance(v, str)}
    fields.update(projects="、".join(data["projects"]), keywords="、".join(data["keywords"]),
                  basis_kind=data["basis"][0]["kind"], basis_title=data["basis"][0]["title"], basis_doc_no="")
    return fields


EDIT = {"row_version": "1", **form("X", name="改过的名称")}
EDIT.pop("code")

# (endpoint, method, url for own department, url for other department, form data, who may, the status
# an allowed request gets). Every refused cell answers 403; nothing else is accepted for either.
# Each cell runs on the same starting world (``reset``), so a write by one role cannot change another's
# answer. ``prepare`` names a state the cell needs first (an indicator to restore must be retired).
CASES = [
    ("auth.logout", "POST", "/logout", "/logout", {}, EVERYONE, 302),
    ("auth.change_password", "GET", "/password", "/password", None, EVERYONE, 200),
    ("search.index", "GET", "/?q=测试", "/?q=测试&department=902", None, EVERYONE, 200),
    # 901 and 902 have draft sets: only the department itself, finance and assigned experts read them
    # (issue 14 item 6, kb/visibility.py); no expert is assigned here.
    ("indicators.detail", "GET", "/indicators/OWN-1", "/indicators/OTH-1", None, DRAFT_READERS, 200),
    ("indicators.compare", "GET", "/compare?codes=OWN-1&codes=CM-1", "/compare?codes=OTH-1&codes=CM-1", None, EVERYONE, 200),
    ("indicators.common", "GET", "/common", "/common", None, EVERYONE, 200),
    # 检索同义词: the library keepers read and maintain the groups (an empty table here: nothing to edit).
    ("synonyms.index", "GET", "/synonyms/", "/synonyms/?q=满意&status=all", None, FINANCE_WRITE, 200),
    ("synonyms.export", "GET", "/synonyms/synonyms.yaml", "/synonyms/synonyms.yaml", None, FINANCE_WRITE, 200),
    ("departments.index", "GET", "/departments", "/departments", None, EVERYONE, 200),
    ("departments.detail", "GET", "/departments/901", "/departments/902", None, EVERYONE, 200),
    ("personal.index", "GET", "/me", "/me", None, EVERYONE, 200),
    ("personal.favourite", "POST", "/me/favourites/OWN-1", "/me/favourites/OTH-1", {}, EVERYONE, 302),
    ("indicators.edit", "GET", "/indicators/OWN-1/edit", "/indicators/OTH-1/edit", None, OWN_WRITE, 200),
    ("indicators.edit", "POST", "/indicators/OWN-1/edit", "/indicators/OTH-1/edit", EDIT, OWN_WRITE, 302),
    ("indicators.edit", "GET", "/indicators/CM-1/edit", "/indicators/CM-1/edit", None, FINANCE_WRITE, 200),
    ("indicators.retire", "POST", "/indicators/OWN-1/retire", "/indicators/OTH-1/retire", {"row_version": "1"}, OWN_WRITE, 302),
    ("indicators.retire", "POST", "/indicators/CM-1/retire", "/indicators/CM-1/retire", {"row_version": "1"}, FINANCE_WRITE, 302),
    ("indicators.restore", "POST", "/indicators/OWN-1/restore", "/indicators/OTH-1/restore", {"row_version": "1"}, OWN_WRITE, 302),
    ("indicators.new", "GET", "/departments/901/indicators/new", "/departments/902/indicators/new", None, OWN_WRITE, 200),
    ("indicators.new", "POST", "/departments/901/indicators/new", "/departments/902/indicators/new", form("Z-1"), OWN_WRITE, 302),
    ("indicators.reorder", "GET", "/departments/901/reorder", "/departments/902/reorder", None, OWN_WRITE, 200),
    ("indicators.reorder", "POST", "/departments/901/reorder", "/departments/902/reorder", {"order": ["X"]}, OWN_WRITE, 422),
    ("indicators.copy", "POST", "/indicators/OTH-1/copy", "/indicators/CM-1/copy", {"department": "902"}, COPIERS, 302),
    ("indicators.new_common", "GET", "/common/new", "/common/new", None, FINANCE_WRITE, 200),
    ("indicators.reorder_common", "GET", "/common/reorder", "/common/reorder", None, FINANCE_WRITE, 200),
    ("admin.users", "GET", "/admin/users", "/admin/users", None, ADMIN_ONLY, 200),
    ("admin.new_user", "GET", "/admin/users/new", "/admin/users/new", None, ADMIN_ONLY, 200),
    ("admin.edit_user", "GET", "/admin/users/{finance_id}", "/admin/users/{finance_id}", None, ADMIN_ONLY, 200),
    ("admin.departments", "GET", "/admin/departments", "/admin/departments", None, ADMIN_ONLY, 200),
    ("admin.edit_department", "GET", "/admin/departments/901", "/admin/departments/902", None, ADMIN_ONLY, 200),
    ("admin.security", "GET", "/admin/security", "/admin/security", None, ADMIN_ONLY, 200),
    ("admin.unlock_user", "POST", "/admin/users/{finance_id}/unlock", "/admin/users/{finance_id}/unlock", {},
     ADMIN_ONLY, 302),
    ("search_insights.index", "GET", "/search-insights", "/search-insights?days=7", None, INSIGHT_READERS, 200),
    ("search_insights.query", "GET", "/search-insights/query?q=测试", "/search-insights/query?q=满意度", None,
     INSIGHT_READERS, 200),
    # Every searcher may report an opened hit; a made-up reference is answered 400 (allowed, but invalid).
    ("search_insights.opened", "POST", "/search/opened", "/search/opened", {"ref": "x", "rank": "1"}, EVERYONE, 400),
    ("api.search", "GET", "/api/v1/search?q=测试", "/api/v1/search?q=测试&department=902", None, EVERYONE, 200),
    ("api.recommend", "GET", "/api/v1/recommend?text=测试", "/api/v1/recommend?text=测试&department=902", None, EVERYONE, 200),
    ("api.suggest", "GET", "/api/v1/suggest?q=测试", "/api/v1/suggest?q=测试", None, EVERYONE, 200),
    ("api.indicator", "GET", "/api/v1/indicators/OWN-1", "/api/v1/indicators/OTH-1", None, DRAFT_READERS, 200),
    ("api.departments", "GET", "/api/v1/departments", "/api/v1/departments", None, EVERYONE, 200),
    ("api.indicator_update", "PUT", "/api/v1/indicators/OWN-1", "/api/v1/indicators/OTH-1", "json", OWN_WRITE, 200),
]
# Public by design, tested in test_api.py / test_auth.py: signing in and the API description.
PUBLIC_ENDPOINTS = {"static", "auth.login", "api.tokens", "api-docs.openapi_json"}
OUR_BLUEPRINTS = {"auth", "search", "search_insights", "indicators", "departments", "personal", "admin", "api", "api-docs"}
SEEDED = ("OWN-1", "OTH-1", "CM-1")


@functools.cache
def _password_hash() -> str:
    return hash_password("Matrix#2025x")  # hashing is slow on purpose; once for every user here


def build_world(app) -> dict[str, tuple[int, int]]:
    """Two draft departments with one indicator each, a common indicator, one user per role."""
    with app.extensions["kb"].sessions() as session:
        departments = {}
        for code in ("901", "902"):
            department = Department(code=code, name=f"测试局{code}", functions=["测试职能"])
            session.add(department)
            session.add(IndicatorSet(department=department, year=2025, status=SetStatus.DRAFT, is_current=True))
            departments[code] = department
        for code, department in (("OWN-1", departments["901"]), ("OTH-1", departments["902"]), ("CM-1", None)):
            indicator = Indicator(code=code, department=department, position=0)
            apply_indicator_fields(indicator, IndicatorSchema().load(indicator_data(code=code)))
            session.add(indicator)
        users = {}
        for role in ROLES:
            users[role] = User(username=f"m_{role}", role=Role(role), password_hash=_password_hash(),
                               department=departments["901"] if role == "department" else None,
                               password_changed_at=utcnow())
            session.add(users[role])
        session.commit()
        return {role: (user.id, user.session_epoch) for role, user in users.items()}


def reset(app, *, retired: bool = False) -> None:
    """Back to the world ``build_world`` made: the three indicators as seeded, nothing added."""
    with app.extensions["kb"].sessions() as session:
        for indicator in session.scalars(select(Indicator)):
            if indicator.code not in SEEDED:
                session.delete(indicator)
        session.flush()
        state = "retired" if retired else "active"
        for code in SEEDED:
            fields = IndicatorSchema().load(indicator_data(code=code, state=state))
            indicator = session.scalar(select(Indicator).where(Indicator.code == code))
            apply_indicator_fields(indicator, fields)
        session.flush()
        # the optimistic-lock counter, put back so every cell posts version 1 like the first
        session.execute(update(Indicator).values(row_version=1))
        session.commit()


@pytest.fixture
def matrix(app):
    return build_world(app)


def as_user(app, user: tuple[int, int]):
    """A client signed in as ``user`` (a session like the login form makes; no slow password check)."""
    client = app.test_client()
    now = time.time()
    with app.extensions["kb"].sessions() as db:
        epoch = db.get(User, user[0]).session_epoch  # logout in an earlier request moves it on
    with client.session_transaction() as session:
        session.update(uid=user[0], epoch=epoch, login_at=now, seen=now)
    return client


def refused(response) -> bool:
    """For the workflow matrix (tests/webapp/test_workflow_permissions.py), which still judges refusal only."""
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and "/login?next=" in response.headers.get("Location", "")


def send(client, method: str, url: str, data):
    """The request of one cell, with a valid CSRF token (the browser-like client adds it to forms)."""
    if data == "json":
        code = url.rsplit("/", 1)[-1]
        token = client.csrf_token()
        return client.open(url, method=method, json=indicator_data(code=code, name="接口改名"),
                           headers={"If-Match": '"1"', "X-CSRFToken": token})
    return client.open(url, method=method, data=data)


@pytest.mark.parametrize("endpoint,method,own,other,data,allowed,ok", CASES,
                         ids=[f"{case[0]}-{case[1]}-{i}" for i, case in enumerate(CASES)])
def test_route_role_department(app, matrix, endpoint, method, own, other, data, allowed, ok):
    expected, actual = {}, {}
    for role in ROLES:
        for relation, url in (("own", own), ("other", other)):
            reset(app, retired=endpoint == "indicators.restore")
            url = url.format(finance_id=matrix["finance"][0])
            response = send(as_user(app, matrix[role]), method, url, data)
            cell = f"{role}/{relation}"
            expected[cell] = ok if relation in allowed[role] else REFUSED
            actual[cell] = response.status_code
            if response.status_code == REFUSED:
                text = response.get_data(as_text=True)
                assert "无权" in text or "没有" in text or "只能" in text  # a Chinese reason, page or JSON
    assert actual == expected


def test_the_matrix_covers_every_route_of_ours(app):
    ours = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.split(".")[0] in OUR_BLUEPRINTS}
    covered = {case[0] for case in CASES} | PUBLIC_ENDPOINTS
    assert sorted(ours - covered) == []


def _example_url(rule) -> str:
    values = {name: (1 if "int" in type(converter).__name__.lower() else "x")
              for name, converter in rule._converters.items()}
    return rule.build(values)[1] if values else rule.rule


def test_anonymous_visitors_are_refused_everywhere_but_sign_in(app):
    """Pages send a visitor to sign in (and back); the API answers 401. Writes carry a valid CSRF
    token, so what is tested is the sign-in gate, not the CSRF check."""
    from webapp.permissions import RULES

    client = app.test_client()
    wrong = []
    for rule in app.url_map.iter_rules():
        if RULES.get(rule.endpoint) is not None and RULES[rule.endpoint].public:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            url = _example_url(rule)
            response = client.open(url, method=method, data={})
            location = response.headers.get("Location", "")
            if url.startswith("/api/"):
                if response.status_code != 401:
                    wrong.append(f"{method} {url}: {response.status_code} (expected 401)")
            elif response.status_code != 302 or "/login?next=" not in location:
                wrong.append(f"{method} {url}: {response.status_code} {location} (expected 302 to /login?next=)")
    assert wrong == []


def test_separation_of_duties_takes_business_writes_from_admins(app_config, database_url):
    from webapp import create_app

    from tests.webapp.conftest import BrowserLikeClient

    app = create_app({**app_config, "SEPARATION_OF_DUTIES": True})
    app.test_client_class = BrowserLikeClient
    admin = as_user(app, build_world(app)["admin"])
    assert admin.get("/indicators/OWN-1/edit").status_code == 403
    assert admin.get("/common/new").status_code == 403
    assert admin.post("/indicators/OWN-1/retire", data={"row_version": "1"}).status_code == 403
    assert admin.get("/admin/users").status_code == 200  # still runs the accounts
    assert admin.get("/indicators/OWN-1").status_code == 200  # and may read
    app.extensions["kb"].close()


@pytest.mark.parametrize("method,url", [
    ("GET", "/goals/new"), ("POST", "/goals/add-indicator"), ("POST", "/goals/1/review"), ("POST", "/goals/1/decide"),
    ("POST", "/workflow/sets/1/submit"), ("POST", "/workflow/sets/1/assign"), ("POST", "/workflow/changes/1/decide"),
])
def test_the_administrator_never_acts_in_a_review_workflow(app, matrix, method, url):
    """kb.permissions: accounts and library upkeep, but no drafting, reviewing or deciding (goals included)."""
    response = as_user(app, matrix["admin"]).open(url, method=method, data={} if method == "POST" else None)
    assert response.status_code == REFUSED
    assert "没有权限" in response.get_data(as_text=True)

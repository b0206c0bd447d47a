"""Every workflow and audit route × every role × own / other department, written independently of
the rows registered in ``webapp/views/workflow/`` & co. "Allowed" means not refused (401/403/login
redirect) — by the permission table or by the service behind it."""
from __future__ import annotations

import pytest

from kb.models import ChangeRequest, ReviewComment
from kb.models.workflow import ChangeKind, CommentKind
from tests.webapp.test_permission_matrix import BOTH, EVERYONE, ROLES, as_user, build_world, refused

NOBODY: dict[str, set] = {}
OWN_DEPARTMENT = {"department": {"own"}}
OWN_DEPARTMENT_READERS = {"department": {"own"}, "finance": BOTH, "expert": BOTH, "admin": BOTH}
DEPARTMENTS_AND_FINANCE = {"department": {"own"}, "finance": BOTH}
FINANCE_ONLY = {"finance": BOTH}
ADMIN_ONLY = {"admin": BOTH}

# (endpoint, method, url for own department, url for other department, form data, who may)
CASES = [
    ("workflow.board", "GET", "/workflow/board", "/workflow/board?pilots=1", None, EVERYONE),
    ("workflow.board_export", "GET", "/workflow/board.xlsx", "/workflow/board.xlsx", None, EVERYONE),
    ("workflow.inbox", "GET", "/workflow/inbox", "/workflow/inbox", None, EVERYONE),
    ("workflow.set_detail", "GET", "/workflow/sets/{own_set}", "/workflow/sets/{other_set}", None,
     OWN_DEPARTMENT_READERS),
    # Only the department submits (finance and experts pass the table, the service refuses them).
    ("workflow.transition", "POST", "/workflow/sets/{own_set}/submit", "/workflow/sets/{other_set}/submit", {},
     OWN_DEPARTMENT),
    ("workflow.assign", "POST", "/workflow/sets/{own_set}/assign", "/workflow/sets/{other_set}/assign", {},
     FINANCE_ONLY),
    # Experts comment only on sets they were assigned to (none here).
    ("workflow.comment", "POST", "/workflow/sets/{own_set}/comments", "/workflow/sets/{other_set}/comments",
     {"kind": "general", "body": "意见"}, FINANCE_ONLY),
    ("workflow.answer", "POST", "/workflow/comments/{own_comment}/answer", "/workflow/comments/{other_comment}/answer",
     {"answer": "已修改"}, OWN_DEPARTMENT),
    ("workflow.start", "POST", "/workflow/departments/901/start", "/workflow/departments/902/start", {},
     DEPARTMENTS_AND_FINANCE),
    ("workflow.versions", "GET", "/workflow/departments/901/versions", "/workflow/departments/902/versions", None,
     OWN_DEPARTMENT_READERS),
    ("workflow.diff", "GET", "/workflow/departments/901/diff", "/workflow/departments/902/diff", None,
     OWN_DEPARTMENT_READERS),
    ("workflow.changes", "GET", "/workflow/changes", "/workflow/changes?status=pending", None,
     {"department": BOTH, "finance": BOTH, "admin": BOTH}),
    ("workflow.new_change", "GET", "/workflow/changes/new", "/workflow/changes/new?kind=retire&code=CM-1", None,
     {"department": BOTH}),
    ("workflow.change_detail", "GET", "/workflow/changes/{own_request}", "/workflow/changes/{other_request}", None,
     {"department": {"own"}, "finance": BOTH, "admin": BOTH}),
    ("workflow.decide_change", "POST", "/workflow/changes/{own_request}/decide", "/workflow/changes/{other_request}/decide",
     {"decision": "decline", "note": "理由"}, FINANCE_ONLY),
    ("workflow.withdraw_change", "POST", "/workflow/changes/{own_request}/withdraw",
     "/workflow/changes/{other_request}/withdraw", {}, OWN_DEPARTMENT),
    ("audit.index", "GET", "/audit/", "/audit/?action=create", None, ADMIN_ONLY),
    ("audit.detail", "GET", "/audit/1", "/audit/1", None, ADMIN_ONLY),
]


@pytest.fixture
def matrix(app):
    users = build_world(app)
    ids = {}
    with app.extensions["kb"].sessions() as session:
        from sqlalchemy import select

        from kb.models import Department

        for relation, code in (("own", "901"), ("other", "902")):
            department = session.scalar(select(Department).where(Department.code == code))
            indicator_set = department.current_set
            comment = ReviewComment(indicator_set=indicator_set, kind=CommentKind.GENERAL, body="请补充依据",
                                    author_name="m_finance", author_role="finance")
            request = ChangeRequest(kind=ChangeKind.RETIRE, indicator_code="CM-1", reason="不再使用",
                                    department=department, requested_by_name=f"dep{code}")
            session.add_all([comment, request])
            session.flush()
            ids.update({f"{relation}_set": indicator_set.id, f"{relation}_comment": comment.id,
                        f"{relation}_request": request.id})
        session.commit()
    return users, ids


@pytest.mark.parametrize("endpoint,method,own,other,data,allowed", CASES,
                         ids=[f"{case[0]}-{case[1]}" for case in CASES])
def test_workflow_route_role_department(app, matrix, endpoint, method, own, other, data, allowed):
    users, ids = matrix
    mismatches = []
    for role in ROLES:
        for relation, url in (("own", own), ("other", other)):
            url = url.format(**ids)
            response = as_user(app, users[role]).open(url, method=method, data=data)
            expected_allowed = relation in allowed.get(role, set())
            if refused(response) == expected_allowed:
                mismatches.append(f"{role}/{relation} {method} {url}: {response.status_code} "
                                  f"(expected {'allowed' if expected_allowed else 'refused'})")
            assert response.status_code < 500, (role, url)
    assert mismatches == []


def test_the_matrix_covers_every_workflow_route(app):
    ours = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.split(".")[0] in ("workflow", "audit")}
    assert sorted(ours - {case[0] for case in CASES}) == []

"""The permission table: every route has a row, and the rows mean what they say."""
from __future__ import annotations

from webapp.permissions import RULES, allow, register


def test_every_route_has_a_permission_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - RULES.keys())
    assert missing == [], f"add these endpoints to webapp/permissions.py RULES (or register()): {missing}"


def test_a_route_without_a_rule_is_refused(app, client, make_user, login):
    @app.get("/unlisted-test-route")
    def unlisted():
        return "should not be reachable"

    make_user("admin", username="guanli")
    login(client, "guanli")
    response = client.get("/unlisted-test-route")
    assert response.status_code == 403
    assert "尚未配置访问权限" in response.get_data(as_text=True)


def test_register_refuses_a_conflicting_row():
    register({"test.same": allow("finance")})
    register({"test.same": allow("finance")})  # the same row again is harmless
    try:
        register({"test.same": allow("expert")})
    except ValueError as error:
        assert "already defined" in str(error)
    else:
        raise AssertionError("a conflicting rule must be refused")
    finally:
        RULES.pop("test.same", None)


def test_unknown_role_names_are_refused():
    try:
        allow("departmnet")
    except ValueError as error:
        assert "unknown roles" in str(error)
    else:
        raise AssertionError("a typo in a role name must fail loudly")

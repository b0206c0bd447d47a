"""Who may open which route: ONE table (``RULES``) mapping every endpoint to a rule.

How it works
------------
:func:`enforce` runs before every request (installed by :func:`init_app`). It loads the user
(web session or ``Authorization: Bearer`` token), then looks the request's endpoint up in
``RULES``. **A route without a row is refused (403) — fail closed**, and
``tests/webapp/test_permissions.py`` fails for any route of the app that has no row, so a new
page cannot be forgotten.

A rule says which roles (:class:`kb.vocab.Role`) may open the route
and, with ``scope=``, which object the route is about. For a department user a scoped route is
allowed only when that object belongs to the user's own department (common indicators belong to
finance, so department users are refused there). Finance, experts and admins are judged by role
only. The table is the coarse, route-level gate; the detailed rule of each action (state, assignment,
ownership) is one predicate in :mod:`kb.permissions`, which services enforce and templates call
(:func:`template_predicates`). ``write=True`` marks business writes (editing indicators, confirming sets…): with
``SEPARATION_OF_DUTIES`` (三员分立) on, administrators are refused these, whatever the roles say.
Services check again (defence in depth); the table is what makes a wrong URL fail early and
uniformly, in pages and in the API.

Adding a feature (workflow, goals, sheets, audit…)
--------------------------------------------------
1. In your view module, next to ``bp``, register your rows::

       from webapp.permissions import allow, register, SIGNED_IN

       bp = Blueprint("goals", __name__, url_prefix="/goals")
       register({
           "goals.index": SIGNED_IN,                                   # every signed-in role
           "goals.edit": allow(Role.DEPARTMENT, Role.FINANCE, write=True),
           "goals.department": allow(Role.DEPARTMENT, Role.FINANCE, Role.EXPERT, scope="department"),
       })

   ``scope`` names a resolver in ``SCOPES`` that reads the URL arguments: ``"department"`` (argument
   ``code`` or ``department_code`` = a department code), ``"indicator"`` (argument ``code`` = an
   indicator code). Add your own resolver with :func:`register_scope` (it returns the owning
   department id, ``None`` for finance-owned objects, or ``NOT_FOUND`` so the view can 404).
2. Add your module to ``webapp/views/__init__.py`` ``MODULES``.
3. The nav item: ``webapp/templates/base.html`` already lists 推进情况 (``workflow.board``),
   待办 (``workflow.inbox``), 目标申报 (``goals.index``), 模版导入 (``sheets.index``) and 审计日志
   (``audit.index``); each shows up by itself once its endpoint exists and the user's role may
   open it. Another item: add it to ``NAV`` in ``webapp/templating.py`` (one line).
4. Pages extend ``base.html`` (blocks ``title``, ``head``, ``content``, ``scripts``); every form
   needs ``<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">``.
5. In views, ``webapp.auth.current_user()`` / ``current_actor()`` give the person; raise
   ``kb.errors`` exceptions and ``webapp/errors.py`` turns them into Chinese 403/404/409/422 pages
   (or JSON under ``/api/``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy import select

from kb import permissions as kb_permissions
from kb.models import Department, Indicator
from kb.permissions import is_admin, sees_only_own_department
from kb.vocab import Role

ALL_ROLES: frozenset[Role] = frozenset(Role)


@dataclass(frozen=True)
class Rule:
    """Who may open a route. ``roles=None`` means open to everybody, signed in or not.

    ``duty`` names an administrator's duty predicate of :mod:`kb.permissions` (``can_read_audit``…),
    asked with the deployment's 三员分立 switch instead of a list of roles.
    """

    roles: frozenset[Role] | None
    scope: str | None = None
    write: bool = False
    duty: Callable[..., bool] | None = None

    @property
    def public(self) -> bool:
        return self.roles is None


def allow(*roles: Role, scope: str | None = None, write: bool = False) -> Rule:
    """A rule for the given roles (all roles when none are named)."""
    unknown = {role for role in roles if role not in Role.labels()}
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return Rule(frozenset(Role(role) for role in roles) if roles else ALL_ROLES, scope, write)


def duty(predicate: Callable[..., bool]) -> Rule:
    """A rule for an administrator's duty (accounts, security, audit) under 三员分立 or not."""
    return Rule(ALL_ROLES, duty=predicate)


PUBLIC = Rule(None)
SIGNED_IN = allow()
FINANCE = allow(Role.FINANCE, Role.ADMIN, write=True)
ACCOUNTS = duty(kb_permissions.can_manage_accounts)  # 系统管理员
SECURITY = duty(kb_permissions.can_manage_security)  # 安全管理员
AUDIT = duty(kb_permissions.can_read_audit)  # 审计管理员
ADMIN = ACCOUNTS  # the older name: account and department administration

# The table. Rows of features built elsewhere are added with ``register`` from their own modules.
RULES: dict[str, Rule] = {
    "static": PUBLIC,
    # 账户
    "auth.login": PUBLIC,
    "auth.logout": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    # 检索与阅读（所有已登录角色）
    "search.index": SIGNED_IN,
    "indicators.detail": SIGNED_IN,
    "indicators.compare": SIGNED_IN,
    "indicators.common": SIGNED_IN,
    "departments.index": SIGNED_IN,
    "departments.detail": SIGNED_IN,
    # 编辑：财政全部；部门只能本部门（服务层再核对“草稿”状态）
    "indicators.edit": allow(Role.DEPARTMENT, Role.FINANCE, Role.ADMIN, scope="indicator", write=True),
    "indicators.retire": allow(Role.DEPARTMENT, Role.FINANCE, Role.ADMIN, scope="indicator", write=True),
    "indicators.restore": allow(Role.DEPARTMENT, Role.FINANCE, Role.ADMIN, scope="indicator", write=True),
    "indicators.new": allow(Role.DEPARTMENT, Role.FINANCE, Role.ADMIN, scope="department", write=True),
    "indicators.reorder": allow(Role.DEPARTMENT, Role.FINANCE, Role.ADMIN, scope="department", write=True),
    "indicators.copy": allow(Role.DEPARTMENT, Role.FINANCE, Role.ADMIN, write=True),
    "indicators.new_common": FINANCE,
    "indicators.reorder_common": FINANCE,
    # 我的
    "personal.index": SIGNED_IN,
    "personal.favourite": SIGNED_IN,
    # 管理（账户、部门）
    "admin.users": ADMIN,
    "admin.new_user": ADMIN,
    "admin.edit_user": ADMIN,
    "admin.departments": ADMIN,
    "admin.edit_department": ADMIN,
    "admin.security": SECURITY,
    "admin.unlock_user": SECURITY,
    # HTTP API (CONTRACT §5)
    "api.search": SIGNED_IN,
    "api.recommend": SIGNED_IN,
    "api.suggest": SIGNED_IN,
    "api.indicator": SIGNED_IN,
    "api.indicator_update": allow(Role.DEPARTMENT, Role.FINANCE, Role.ADMIN, scope="indicator", write=True),
    "api.departments": SIGNED_IN,
    "api.tokens": PUBLIC,
    "api-docs.openapi_json": PUBLIC,
}


def register(rows: Mapping[str, Rule]) -> None:
    """Add rows to the table (call at import time of a view module). Re-registering a row is refused."""
    for endpoint, rule in rows.items():
        if endpoint in RULES and RULES[endpoint] != rule:
            raise ValueError(f"permission rule for {endpoint} is already defined differently")
        RULES[endpoint] = rule


# --- object scopes -----------------------------------------------------------------------------

NOT_FOUND = object()  # the object does not exist: let the view answer 404


def _department_scope(view_args: dict[str, Any]) -> object:
    from webapp.db import get_session

    code = view_args.get("department_code", view_args.get("code"))
    department_id = get_session().scalar(select(Department.id).where(Department.code == code))
    return NOT_FOUND if department_id is None else department_id


def _indicator_scope(view_args: dict[str, Any]) -> object:
    from webapp.db import get_session

    row = get_session().execute(
        select(Indicator.id, Indicator.department_id).where(Indicator.code == view_args.get("code"))
    ).first()
    return NOT_FOUND if row is None else row.department_id


SCOPES: dict[str, Callable[[dict[str, Any]], object]] = {
    "department": _department_scope,
    "indicator": _indicator_scope,
}


def register_scope(name: str, resolver: Callable[[dict[str, Any]], object]) -> None:
    """Add an object scope: ``resolver(view_args)`` returns the owning department id, None or NOT_FOUND."""
    SCOPES[name] = resolver


# --- decisions ---------------------------------------------------------------------------------


def rule_for(endpoint: str | None) -> Rule | None:
    return RULES.get(endpoint or "")


def separation_of_duties() -> bool:
    return bool(current_app.config.get("SEPARATION_OF_DUTIES"))


def role_allowed(rule: Rule, user) -> bool:
    """Whether ``user`` passes the role part of ``rule`` (the object scope is checked separately)."""
    if rule.public:
        return True
    if user is None or user.role not in rule.roles:
        return False
    if rule.duty is not None:
        return rule.duty(user, separation_of_duties())
    if rule.write and is_admin(user) and current_app.config.get("SEPARATION_OF_DUTIES"):
        return False
    return True


def scope_allowed(rule: Rule, user, view_args: dict[str, Any]) -> bool:
    """Department users reach scoped routes only for objects of their own department."""
    if rule.scope is None or user is None or not sees_only_own_department(user):
        return True
    owner = SCOPES[rule.scope](view_args)
    if owner is NOT_FOUND:
        return True
    return owner is not None and owner == user.department_id


def can_open(endpoint: str, **view_args: Any) -> bool:
    """For templates: may the current user open ``endpoint`` (with these URL arguments)?"""
    rule = rule_for(endpoint)
    if rule is None or endpoint not in current_app.view_functions:
        return False
    user = g.get("user")
    return role_allowed(rule, user) and (rule.public or user is not None) and scope_allowed(rule, user, view_args)


def enforce():
    """``before_request``: sign-in, role and own-department checks for the matched endpoint."""
    from webapp import auth, errors, ratelimit

    if request.endpoint is None:  # no route matched: Flask answers 404 itself
        return None
    response = auth.load_user()
    if response is not None:
        return response
    rule = rule_for(request.endpoint)
    if rule is None:
        current_app.logger.error("route %s has no permission rule; refused", request.endpoint)
        return errors.denied("该页面尚未配置访问权限，已拒绝访问。请联系系统管理员。")
    if rule.public:
        return None
    user = g.get("user")
    if user is None:
        return auth.sign_in_required()
    response = auth.check_password_age(user)
    if response is not None:
        return response
    if not role_allowed(rule, user):
        return errors.denied(f"您的角色（{user.role.label}）没有权限使用此功能。")
    if not scope_allowed(rule, user, request.view_args or {}):
        return errors.denied("部门用户只能访问和修改本部门的指标与指标集。")
    return ratelimit.check_search_rate(user)


def template_predicates() -> dict[str, Any]:
    """Context processor: ``actor`` and every ``kb.permissions`` predicate, so a template asks
    ``can_answer_comments(actor, indicator_set)`` exactly as the service will."""
    from kb.services.audit import Actor

    user = g.get("user")
    return {**kb_permissions.PREDICATES, "actor": Actor.of(user) if user is not None else None,
            "role_labels": Role.labels(), "separation": separation_of_duties()}


def init_app(app: Flask) -> None:
    app.before_request(enforce)
    app.context_processor(template_predicates)

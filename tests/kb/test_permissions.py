"""kb.permissions: one predicate per action, the administrator's rights stated once, and no role
compared as a string anywhere else."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from kb import permissions
from kb.models.goal import GoalStatus
from kb.services.audit import Actor
from kb.vocab import Role, SetStatus

ROOT = Path(__file__).resolve().parents[2]
OWN, OTHER = 1, 2


def actor(role: str) -> Actor:
    return Actor(f"u_{role}", role, 10, OWN if role == "department" else None)


def department(id_: int, status: SetStatus | None = SetStatus.DRAFT):
    current = SimpleNamespace(status=status) if status else None
    return SimpleNamespace(id=id_, current_set=current)


def goal(status: GoalStatus, department_id: int = OWN):
    return SimpleNamespace(status=status, project=SimpleNamespace(department_id=department_id))


def indicator_set(status: SetStatus, department_id: int = OWN):
    return SimpleNamespace(status=status, department_id=department_id)


def who(predicate, *args, **kwargs) -> set[str]:
    return {role.value for role in Role if predicate(actor(role.value), *args, **kwargs)}


def test_role_values_and_labels_are_unchanged():
    assert [(r.value, r.label) for r in Role] == [
        ("department", "预算部门"), ("finance", "财政"), ("expert", "专家"), ("admin", "管理员"),
        ("sysadmin", "系统管理员"), ("secadmin", "安全管理员"), ("auditadmin", "审计管理员")]
    assert Role("finance") is Role.FINANCE and Role.FINANCE == "finance"


def test_actor_carries_the_enum_and_the_audit_token():
    assert actor("finance").role is Role.FINANCE
    assert Actor("nobody", "").role is None  # a failed sign-in under an unknown name
    assert not permissions.can_keep_library(Actor("nobody", ""))
    assert not hasattr(Actor, "is_finance")  # the old name that meant "finance or admin"


def test_the_administrator_administers_and_keeps_the_library_but_never_acts_in_a_workflow():
    assert who(permissions.can_administer) == {"admin", "sysadmin"}
    assert who(permissions.can_keep_library) == {"finance", "admin"}
    assert who(permissions.can_edit_indicator, SimpleNamespace(department_id=None, department=None)) \
        == {"finance", "admin"}
    # goals are a review workflow like indicator sets: no drafting, reviewing or deciding by admin
    assert who(permissions.can_draft_goal) == {"department", "finance"}
    assert who(permissions.can_review_goal, goal(GoalStatus.SUBMITTED)) == {"finance", "expert"}
    assert who(permissions.can_decide_goal, goal(GoalStatus.SUBMITTED)) == {"finance"}
    assert who(permissions.can_edit_goal, goal(GoalStatus.DRAFT)) == {"department", "finance"}
    assert who(permissions.can_decide_change) == {"finance"}
    assert who(permissions.can_assign_experts, indicator_set(SetStatus.SUBMITTED)) == {"finance"}
    assert who(permissions.can_confirm_set, indicator_set(SetStatus.SUBMITTED)) == {"department", "finance"}
    assert who(permissions.can_start_set, department(OWN)) == {"department", "finance"}
    # but it reads everything
    assert who(permissions.can_view_goal, goal(GoalStatus.SUBMITTED, OTHER)) == {"finance", "expert", "admin"}


@pytest.mark.parametrize("status,expected", [
    (SetStatus.DRAFT, {"department", "finance", "admin"}),
    (SetStatus.SUBMITTED, {"finance", "admin"}),  # a department's set in review is frozen for it
    (None, {"department", "finance", "admin"}),   # no set yet: the department starts its own
])
def test_adding_indicators_follows_the_set_state(status, expected):
    assert who(permissions.can_add_indicator, department(OWN, status)) == expected
    assert who(permissions.can_add_indicator, department(OTHER, status)) == expected - {"department"}


def test_search_insights_are_read_by_finance_and_the_administrator():
    assert who(permissions.can_view_search_insights) == {"finance", "admin"}


def test_reviews_need_the_assignment_and_the_state():
    reviewing = indicator_set(SetStatus.CONFIRMED)
    assert who(permissions.can_certify_set, assigned=True) == {"expert"}
    assert who(permissions.can_certify_set, assigned=False) == set()
    assert who(permissions.can_return_set, assigned=False) == {"finance"}
    assert who(permissions.can_comment_set, reviewing, assigned=True) == {"finance", "expert"}
    assert who(permissions.can_comment_set, indicator_set(SetStatus.DRAFT), assigned=True) == set()
    assert who(permissions.can_answer_comments, reviewing) == {"department"}
    assert who(permissions.can_answer_comments, indicator_set(SetStatus.CONFIRMED, OTHER)) == set()


def test_goal_predicates_follow_the_goal_state():
    assert who(permissions.can_review_goal, goal(GoalStatus.DRAFT)) == set()
    assert who(permissions.can_edit_goal, goal(GoalStatus.SUBMITTED)) == set()
    assert who(permissions.can_edit_goal, goal(GoalStatus.RETURNED, OTHER)) == {"finance"}


ROLE_STRING = re.compile(
    r"""role\s*(==|!=|\bin\b|\bnot in\b)\s*[("']|["'](department|finance|expert|admin)["']\s*(==|!=)\s*\w*role"""
    r"""|(?<!permissions)\.is_finance\b""")
ALLOWED = {ROOT / "kb" / "vocab.py", ROOT / "kb" / "permissions.py"}


def test_no_role_is_compared_as_a_string_outside_the_enum_and_permissions_modules():
    offenders = []
    for folder in ("kb", "webapp"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".html") or path in ALLOWED or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if ROLE_STRING.search(line) or re.search(r"role\.value\s*==", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_templates_get_the_same_predicates():
    assert {"can_answer_comments", "can_assign_experts", "can_start_set", "can_edit_indicator"} \
        <= set(permissions.PREDICATES)


def test_synonyms_are_maintained_by_the_library_keepers():
    assert who(permissions.can_edit_synonyms) == {"finance", "admin"}

import pytest

from kb.errors import ValidationFailed
from kb.services.users import add_user, password_problems, verify_password

STRONG = "Qingshan#2025"


def test_add_user_hashes_with_argon2(session, actor, make_department):
    make_department("101", "县教育局")
    user = add_user(session, actor, "jiaoyu", STRONG, "department", "101")
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, STRONG)
    assert not verify_password(user.password_hash, "wrong")
    assert user.department.code == "101"


def test_add_user_reports_every_problem(session, actor):
    with pytest.raises(ValidationFailed) as caught:
        add_user(session, actor, "x y", "short", "department", "999")
    text = str(caught.value)
    assert "用户名只能包含" in text and "部门 999 不存在" in text and "密码至少" in text


def test_department_user_needs_department(session, actor):
    with pytest.raises(ValidationFailed, match="必须指定所属部门"):
        add_user(session, actor, "someone", STRONG, "department")


def test_password_policy():
    assert password_problems(STRONG) == []
    assert password_problems("alllowercase1") != []

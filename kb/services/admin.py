"""Administration of the organisation: department records (name, pilot flag, 三定 functions)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from kb.permissions import can_administer
from kb.errors import PermissionDenied, Problem, ValidationFailed
from kb.models import Department
from kb.services.audit import Actor, record_change


def update_department(session: Session, actor: Actor, department: Department, *, name: str, pilot: bool,
                      functions: list[str]) -> Department:
    """Change a department's name, pilot flag and 三定 functions (administrators only)."""
    if not can_administer(actor):
        raise PermissionDenied("只有系统管理员可以修改部门信息。")
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed([Problem("部门名称不能为空，且不超过 200 字。", field="name")])
    before = {"name": department.name, "pilot": department.pilot, "functions": list(department.functions or [])}
    department.name = name
    department.pilot = pilot
    department.functions = [line.strip() for line in functions if line.strip()]
    session.flush()
    after = {"name": department.name, "pilot": department.pilot, "functions": department.functions}
    record_change(session, actor, "update", "department", department.code, before=before, after=after,
                  summary=department.name)
    return department

"""绩效自评: departments upload their 项目支出绩效自评表 and see score and grade; finance lists a year,
imports in bulk, draws the spot-check sample, re-checks, and reads the problem statistics.

One blueprint; routes live in ``evaluations`` (list, template, upload, detail) and ``spot_checks``
(draw, re-check, statistics)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select

from kb.models import SelfEvaluation
from kb.vocab import Role
from webapp.db import get_session
from webapp.permissions import NOT_FOUND, SIGNED_IN, allow, register, register_scope

bp = Blueprint("selfeval", __name__, url_prefix="/selfeval")

register({
    "selfeval.index": SIGNED_IN,
    "selfeval.template": SIGNED_IN,
    "selfeval.upload": allow(Role.DEPARTMENT, Role.FINANCE, write=True),
    "selfeval.fill": allow(Role.DEPARTMENT, Role.FINANCE, scope="goal", write=True),
    "selfeval.detail": allow(scope="selfeval"),
    "selfeval.spot_checks": allow(Role.FINANCE, write=True),
    "selfeval.recheck": allow(Role.FINANCE, write=True),
    "selfeval.statistics": allow(Role.FINANCE, Role.EXPERT, Role.ADMIN),
})


def _selfeval_scope(view_args: dict[str, Any]) -> object:
    department_id = get_session().scalar(
        select(SelfEvaluation.department_id).where(SelfEvaluation.id == view_args.get("evaluation_id")))
    return NOT_FOUND if department_id is None else department_id


register_scope("selfeval", _selfeval_scope)

from webapp.views.selfeval import evaluations, filling, spot_checks  # noqa: E402,F401  (routes attach to bp)

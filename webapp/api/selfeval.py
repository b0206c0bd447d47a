"""``GET /api/v1/self-evaluations?year=YYYY`` (CONTRACT §7): each project's self-assessed score and grade.

Token or web session; a department user sees only its own department's projects (the service list is
narrowed here, by the same predicate the pages use).
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from kb import permissions
from kb.services import selfeval
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.permissions import SIGNED_IN, register

blp = Blueprint("api_selfeval", __name__, description="绩效自评结果（CONTRACT §7）")
register({"api_selfeval.self_evaluations": SIGNED_IN})


class YearArgs(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100, error="year 应为四位年度，例如 2024。"),
                          metadata={"description": "评价年度"}, error_messages={"required": "请提供 year：评价年度，例如 2024。"})


class SelfEvaluationSummarySchema(Schema):
    project = fields.String()
    department = fields.String()
    score = fields.Float()
    grade = fields.String()


@blp.route("/self-evaluations", endpoint="self_evaluations")
class SelfEvaluations(MethodView):
    @blp.arguments(YearArgs, location="query")
    @blp.response(200, SelfEvaluationSummarySchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """一个年度各项目的自评得分和等级（部门用户只看到本部门的项目）。"""
        actor = current_actor()
        own = actor.department_id if permissions.sees_only_own_department(actor) else None
        if permissions.sees_only_own_department(actor) and own is None:
            return []
        return [{"project": e.project_name, "department": e.department.name, "score": e.total, "grade": e.grade}
                for e in selfeval.evaluations_of(get_session(), year=args["year"], department_id=own)]

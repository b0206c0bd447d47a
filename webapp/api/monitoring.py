"""``GET /api/v1/monitoring?round=ID`` (CONTRACT §7): the lights of every project of a monitoring
round, for scripts. Token (or session) authentication like the rest of ``/api/v1``; a department user
gets only its own department's projects."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from kb import permissions
from kb.errors import PermissionDenied
from kb.services import monitoring
from webapp.auth import current_actor
from webapp.db import get_session
from webapp.permissions import SIGNED_IN, register

blp = Blueprint("monitoring_api", __name__, description="运行监控（CONTRACT §7）")
register({"monitoring_api.monitoring": SIGNED_IN})

LIGHTS = ("green", "yellow", "red")


class MonitoringArgs(Schema):
    round = fields.Integer(required=True, metadata={"description": "监控轮次编号（运行监控页面地址中的数字）"},
                           error_messages={"required": "请提供 round：监控轮次编号。",
                                           "invalid": "round 应是监控轮次编号（整数）。"})


class ProjectLightsSchema(Schema):
    project = fields.String(metadata={"description": "项目名称"})
    department = fields.String(metadata={"description": "部门名称"})
    budget_light = fields.String(allow_none=True, metadata={"enum": LIGHTS, "description": "预算执行灯；未填报为 null"})
    goal_light = fields.String(allow_none=True, metadata={"enum": LIGHTS, "description": "目标完成灯；未填报或无指标为 null"})


@blp.route("/monitoring", endpoint="monitoring")
class MonitoringLights(MethodView):
    @blp.arguments(MonitoringArgs, location="query")
    @blp.response(200, ProjectLightsSchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """一轮监控中各项目的预算执行灯与目标完成灯（部门用户只得到本部门项目）"""
        session, actor = get_session(), current_actor()
        monitoring_round = monitoring.get_round(session, args["round"])
        if not permissions.can_view_monitoring(actor):
            raise PermissionDenied("您的角色没有权限查看运行监控。")
        department_id = actor.department_id if permissions.sees_only_own_department(actor) else None
        return [{"project": entry.project.name, "department": entry.department.name,
                 "budget_light": entry.budget_light.value if entry.budget_light else None,
                 "goal_light": entry.goal_light.value if entry.goal_light else None}
                for entry in monitoring.round_entries(session, monitoring_round, department_id)]

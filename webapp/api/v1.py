"""``/api/v1`` endpoints: search, recommend, suggest, indicators, departments, tokens."""
from __future__ import annotations

from flask import abort, current_app, g, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from kb.errors import Problem, ValidationFailed
from kb.schemas import DepartmentSummarySchema, IndicatorSchema, SearchHitSchema, SearchResultSchema
from kb.searching import FILTER_KEYS, recommend_indicators, search_indicators, suggest_indicators
from kb.services import accounts
from kb.services.indicators import get_indicator, update_indicator
from kb.services.library import indicator_to_dict
from kb.visibility import check_can_read, hidden_for
from webapp import lookups
from webapp.auth import PASSWORD_CHANGE_FIRST, THROTTLED, current_actor, ip_is_throttled, lockout_policy
from webapp.db import get_search, get_session
from webapp.query_logging import log_search_later
from webapp.security import csrf

blp = Blueprint("api", __name__, description="指标库 HTTP API")
SEARCH_RESULT_FIELDS = tuple(SearchResultSchema().fields)
csrf.exempt(blp)  # bearer-token clients send no cookie; cookie-authenticated writes are checked below


@blp.before_request
def _csrf_for_cookie_writes():
    if request.method in ("GET", "HEAD", "OPTIONS") or request.endpoint == "api.tokens":
        return None
    if g.get("auth_method") == "session":
        csrf.protect()
    return None


class SearchArgs(Schema):
    q = fields.String(load_default="", metadata={"description": "检索词，如“高血压 管理”"})
    department = fields.String(load_default=None, metadata={"description": "部门编码"})
    level1 = fields.String(load_default=None)
    level2 = fields.String(load_default=None)
    nature = fields.String(load_default=None)
    unit = fields.String(load_default=None)
    status = fields.String(load_default=None)
    state = fields.String(load_default=None, metadata={"description": "active | retired"})
    kind = fields.String(load_default=None, metadata={"description": "共性 | 个性"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="limit 应在 1–100 之间。"))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, error="offset 不能为负数。"))


class RecommendArgs(Schema):
    text = fields.String(required=True, metadata={"description": "项目描述（项目名称、内容、预期目标）"},
                         error_messages={"required": "请提供 text：项目描述。"})
    department = fields.String(load_default=None)
    category = fields.String(load_default=None, metadata={"description": "项目类别（如 公共服务类）：面向群众的项目必含满意度指标"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="limit 应在 1–100 之间。"))


class SuggestArgs(Schema):
    q = fields.String(load_default="")
    limit = fields.Integer(load_default=8, validate=validate.Range(min=1, max=20, error="limit 应在 1–20 之间。"))


class RecommendResultSchema(Schema):
    total = fields.Integer()
    hits = fields.List(fields.Nested(SearchHitSchema))


class SuggestionSchema(Schema):
    code = fields.String()
    name = fields.String()
    department = fields.String(allow_none=True)


class TokenRequestSchema(Schema):
    username = fields.String(required=True, error_messages={"required": "请提供 username。"})
    password = fields.String(required=True, load_only=True, error_messages={"required": "请提供 password。"})


class TokenSchema(Schema):
    token = fields.String()


@blp.route("/search", endpoint="search")
class Search(MethodView):
    @blp.arguments(SearchArgs, location="query")
    @blp.response(200, SearchResultSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """检索指标（命中、高亮、分面计数、纠错建议）。"""
        filters = {key: args[key] for key in FILTER_KEYS if args.get(key)}  # the page's filters, every one
        session = get_session()
        result = search_indicators(session, get_search(), args["q"], filters=filters,
                                   limit=args["limit"], offset=args["offset"], hidden=hidden_for(session, current_actor()))
        if args["offset"] == 0:  # a new search, not the next page of one
            log_search_later("api", args["q"], filters, result["total"])
        # Already in SearchResultSchema's shape (tests/webapp/test_api_reads.py holds them equal): sent as it is,
        # the schema's dump cost a sixth of a search (issue 15).
        return jsonify({name: result[name] for name in SEARCH_RESULT_FIELDS if name in result})


@blp.route("/recommend", endpoint="recommend")
class Recommend(MethodView):
    @blp.arguments(RecommendArgs, location="query")
    @blp.response(200, RecommendResultSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """按项目描述推荐最合适的指标。"""
        session = get_session()
        result = recommend_indicators(session, get_search(), args["text"], department=args["department"],
                                      limit=args["limit"], category=args["category"],
                                      hidden=hidden_for(session, current_actor()))
        log_search_later("recommend", args["text"], {"department": args["department"], "category": args["category"]},
                         result["total"])
        return result


@blp.route("/suggest", endpoint="suggest")
class Suggest(MethodView):
    @blp.arguments(SuggestArgs, location="query")
    @blp.response(200, SuggestionSchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self, args):
        """输入联想（检索框下拉提示）。"""
        session = get_session()
        return suggest_indicators(session, get_search(), args["q"], limit=args["limit"],
                                  hidden=hidden_for(session, current_actor()))


@blp.route("/indicators/<code>", endpoint="indicator")
class IndicatorResource(MethodView):
    @blp.response(200, IndicatorSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, code):
        """一项指标的全部字段（与 YAML 格式相同）。"""
        indicator = get_indicator(get_session(), code)
        check_can_read(get_session(), current_actor(), indicator)
        return indicator_to_dict(indicator), 200, {"ETag": f'"{indicator.row_version}"'}


@blp.route("/indicators/<code>", endpoint="indicator_update", methods=["PUT"])
class IndicatorUpdate(MethodView):
    @blp.arguments(IndicatorSchema)
    @blp.response(200, IndicatorSchema)
    @blp.alt_response(409, description="他人已先保存（If-Match 版本不符），返回对方改动的字段")
    @blp.alt_response(422, description="字段校验未通过，逐条给出问题")
    @blp.doc(security=[{"bearer": []}], parameters=[{"in": "header", "name": "If-Match", "required": True,
                                                     "schema": {"type": "string"},
                                                     "description": "读取时响应头 ETag 中的版本号"}])
    def put(self, data, code):
        """修改一项指标（与网页相同的权限：财政全部，部门仅本部门草稿指标集）。"""
        session = get_session()
        try:
            expected = int(request.headers.get("If-Match", "").strip('"W/ '))
            if not 1 <= expected < 2**31:  # a version is a small positive number (issue 14 item 11)
                raise ValueError(expected)
        except ValueError:
            response = jsonify({"message": "请在请求头 If-Match 中提供读取时的版本号（GET 响应的 ETag）。"})
            response.status_code = 428
            abort(response)
        if data["code"] != code:
            raise ValidationFailed([Problem(f"请求体的 code（{data['code']}）与网址中的编码 {code} 不一致；编码不能修改。",
                                            field="code")])
        if "state" not in (request.get_json(silent=True) or {}):
            data["state"] = get_indicator(session, code).state.value  # retiring is explicit, never a default
        indicator = update_indicator(session, current_actor(), code, {**data, "code": code}, expected)
        session.commit()
        body = indicator_to_dict(indicator)
        return body, 200, {"ETag": f'"{indicator.row_version}"'}


@blp.route("/departments", endpoint="departments")
class Departments(MethodView):
    @blp.response(200, DepartmentSummarySchema(many=True))
    @blp.doc(security=[{"bearer": []}])
    def get(self):
        """全县部门及其当前指标集状态。"""
        return lookups.department_summaries(get_session())


@blp.route("/tokens", endpoint="tokens")
class Tokens(MethodView):
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(401, description="用户名或密码不正确")
    def post(self, args):
        """用用户名和密码换取 API 令牌（Authorization: Bearer 令牌）。"""
        db = get_session()
        policy = lockout_policy()
        if ip_is_throttled():
            response = jsonify({"message": THROTTLED})
            response.status_code = 429
            abort(response)
        try:
            user = accounts.authenticate(db, args["username"], args["password"], policy, request.remote_addr or "")
        except accounts.LoginFailed as failure:
            db.commit()
            response = jsonify({"message": failure.message})
            response.status_code = 401
            abort(response)
        if accounts.password_expired(user, current_app.config["PASSWORD_MAX_AGE_DAYS"]):
            # The web sends such a user to /password first; the API must not be a way around it.
            db.commit()  # the sign-in's audit row
            response = jsonify({"message": PASSWORD_CHANGE_FIRST})
            response.status_code = 403
            abort(response)
        token = accounts.issue_token(db, user, request.remote_addr or "")
        db.commit()
        return {"token": token}


"""The JSON API under ``/api/v1`` (CONTRACT §5), documented at ``/api/v1/openapi.json``.

Same permission table as the pages (``webapp/permissions.py``). Authentication: the web session or
``Authorization: Bearer <token>`` from ``POST /api/v1/tokens``. Cookie-authenticated writes need the
CSRF token (header ``X-CSRFToken``); bearer-token requests do not (no cookie, no CSRF).
"""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api


API_PREFIX = "/api/v1"


class KbApi(Api):
    """flask-smorest without its app-wide error handlers: ``webapp/errors.py`` answers JSON under /api/."""

    def _register_error_handlers(self) -> None:
        return None


def init_app(app: Flask) -> None:
    from webapp.api.monitoring import blp as monitoring_blp
    from webapp.api.selfeval import blp as selfeval_blp
    from webapp.api.v1 import blp

    app.config.update(
        API_TITLE="襄垣县预算绩效指标库 API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = KbApi(app, spec_kwargs={
        "info": {"description": "检索、推荐与读取指标库（CONTRACT §5）。认证：网页登录会话，或 Bearer 令牌。"},
    })
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.register_blueprint(blp, url_prefix=API_PREFIX)
    api.register_blueprint(monitoring_blp, url_prefix=API_PREFIX)
    api.register_blueprint(selfeval_blp, url_prefix=API_PREFIX)

"""审定流程: one blueprint, its routes in the modules of this package.

``sets`` — an indicator set's page (status, actions, review, comments, timeline), versions and diffs;
``board`` — 推进情况; ``inbox`` — 待办; ``change_requests`` — 变更申请 of common indicators.
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("workflow", __name__, url_prefix="/workflow")

from webapp.views.workflow import board, change_requests, inbox, sets  # noqa: E402,F401  (routes attach to bp)

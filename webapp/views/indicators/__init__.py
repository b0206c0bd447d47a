"""指标：detail, compare, common indicators (reading) and add / edit / retire / reorder / copy (editing)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("indicators", __name__)

from webapp.views.indicators import editing, reading  # noqa: E402,F401  (routes attach to bp)

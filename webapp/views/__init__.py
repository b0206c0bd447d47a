"""Server-rendered pages, one blueprint (``bp``) per feature module."""
from __future__ import annotations

import importlib

from flask import Flask

# Feature modules whose ``bp`` is registered on the app; add a feature by adding its module here.
MODULES: tuple[str, ...] = ("departments", "search", "indicators", "personal", "admin", "goals", "usage", "workflow", "audit", "sheets",
                           "monitoring", "selfeval", "search_insights", "synonyms")


def register_blueprints(app: Flask) -> None:
    for name in MODULES:
        app.register_blueprint(importlib.import_module(f"webapp.views.{name}").bp)
    from webapp.views.readable import person

    app.add_template_filter(person, "person")

"""The web application and the ``kb`` command: composes the domain (kb) and the engine (search)."""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kb.db import make_engine, make_session_factory
from kb.indexing import INDICATOR_FIELDS, IndexSync, install_index_sync, repair_index, search_options
from search import BaseBackend, load_backend
from webapp.config import load_config


@dataclass
class KbState:
    """What the app and the CLI share: the database and the search backend."""

    engine: Engine
    sessions: sessionmaker[Session]
    search: BaseBackend
    index_sync: IndexSync
    # Run first by close() while the database is still open, e.g. writing the query log's queued rows.
    closing: list[Callable[[], object]] = field(default_factory=list)

    def close(self) -> None:
        """Finish queued writes, let queued index updates land, stop the drainer, close the index and the
        database pool."""
        for finish in self.closing:
            finish()
        self.closing.clear()
        self.index_sync.close()
        self.search.close()
        self.engine.dispose()


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory (see the Flask tutorial): configuration, database, search, blueprints."""
    app = Flask(__name__)
    app.config.update(load_config(test_config))
    app.json.ensure_ascii = False  # Chinese messages stay readable in JSON answers
    engine = make_engine(app.config["DATABASE_URL"])
    sessions = make_session_factory(engine)
    backend = load_backend(
        app.config["SEARCH_BACKEND"], fields=INDICATOR_FIELDS, **search_options(meaning=app.config["SEARCH_MEANING"]),
        # Where an index may live: a folder (Whoosh) or the database (search.postgres_backend).
        locations={"index_dir": app.config["SEARCH_INDEX_DIR"], "database_url": app.config["DATABASE_URL"]},
    )
    # No index work here: create_app runs in every worker, CLI call and test. Repair belongs to
    # `kb serve` (repair_search_index), `kb init` and `kb index rebuild`; `kb index check` must see drift.
    app.extensions["kb"] = KbState(engine, sessions, backend, install_index_sync(sessions, backend))

    from webapp import api, auth, db, errors, permissions, security, templating
    from webapp.views import register_blueprints

    db.init_app(app)
    security.configure(app)
    errors.init_app(app)
    templating.init_app(app)
    permissions.init_app(app)
    app.register_blueprint(auth.bp)
    register_blueprints(app)
    api.init_app(app)
    return app


def repair_search_index(app: Flask) -> str | None:
    """Start-up repair for a server (``kb serve``): rebuild a missing, damaged or stale index (e.g. after
    kill -9) and apply queued updates. Returns what was done, or None when disabled or it failed."""
    if not app.config["SEARCH_REPAIR_ON_START"]:
        return None
    state = app.extensions["kb"]
    try:
        return repair_index(state.engine, state.search)
    except OSError:  # e.g. disk full: start anyway on the existing index; the queue stays for later
        logging.getLogger(__name__).exception("启动时修复检索索引失败（磁盘空间或权限），继续使用现有索引")
        return None

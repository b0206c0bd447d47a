"""A closed app lets go of its search backend: a test run or a long-lived process that builds many apps
(every CLI call builds one) must not keep every index and its caches in memory until exit."""
from __future__ import annotations

import gc
import weakref

from sqlalchemy import select

from kb.indexing import rebuild_index, settle
from kb.models import Indicator
from kb.searching import search_indicators


def test_a_closed_app_leaves_no_backend_alive(app_config: dict, seed_snapshot) -> None:
    from webapp import create_app

    app_config.pop("SEARCH_BACKEND")  # the real default engine, with its caches and word vectors
    app = create_app(app_config)
    state = app.extensions["kb"]
    seed_snapshot.restore(state.engine)
    backend = weakref.ref(state.search)
    with state.sessions() as session:
        rebuild_index(session, state.search)
        session.commit()
        indicator = session.scalars(select(Indicator).order_by(Indicator.code)).first()
        indicator.keywords = [*(indicator.keywords or []), "关闭测试"]
        session.commit()  # queues an index update: the drainer thread starts
        settle(state.search)
        assert search_indicators(session, state.search, "关闭测试", limit=5)["hits"], "the edit was indexed"
    state.close()
    del app, state, session, indicator
    gc.collect()
    assert backend() is None, "something still holds the closed app's search backend"

"""One database session per request; the view commits, teardown rolls back what was not."""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["kb"].sessions()
    return g.db_session


def get_search():
    return current_app.extensions["kb"].search


def close_session(_error: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_session)

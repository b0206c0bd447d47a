"""``kb querylog prune`` (the retention of the query log) and the web app's once-a-day prune."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kb.models import QueryLogEntry
from kb.models.base import utcnow
from kb.services.query_log import add_search
from webapp.cli import main


def _rows(session, *ages_in_days: int) -> None:
    for age in ages_in_days:
        add_search(session, query=f"{age} 天前", hits=1, role="finance", channel="page",
                   at=utcnow() - dt.timedelta(days=age))
    session.commit()


def _kept(session) -> list[str]:
    session.rollback()
    return sorted(session.scalars(select(QueryLogEntry.query)))


def test_prune_keeps_the_configured_number_of_days(runner, session, monkeypatch):
    _rows(session, 1, 179, 181, 400)
    result = runner.invoke(main, ["querylog", "prune"])
    assert result.exit_code == 0, result.output
    assert "已删除 2 条超过 180 天" in result.output
    assert _kept(session) == ["1 天前", "179 天前"]
    monkeypatch.setenv("KB_QUERY_LOG_DAYS", "30")
    assert "已删除 1 条" in runner.invoke(main, ["querylog", "prune"]).output
    assert _kept(session) == ["1 天前"]


def test_prune_days_option_and_zero_keeps_everything(runner, session):
    _rows(session, 5, 50)
    assert "全部保留" in runner.invoke(main, ["querylog", "prune", "--days", "0"]).output
    assert len(_kept(session)) == 2
    assert runner.invoke(main, ["querylog", "prune", "--days", "10"]).exit_code == 0
    assert _kept(session) == ["5 天前"]
    refused = runner.invoke(main, ["querylog", "prune", "--days", "-1"])
    assert refused.exit_code != 0


def test_the_web_app_prunes_old_rows_with_the_first_search_of_the_day(app, world, client, make_user, login):
    sessions = app.extensions["kb"].sessions
    with sessions() as session:
        _rows(session, 10, 200)
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    client.get("/?q=满意度")
    with sessions() as session:
        assert _kept(session) == ["10 天前", "满意度"]
        _rows(session, 300)  # written after today's prune: stays until tomorrow's
    client.get("/?q=学生资助")
    with sessions() as session:
        assert "300 天前" in _kept(session)

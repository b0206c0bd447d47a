"""Uploads through the page (issue 14 item 3): each is audited, the quota answers with a message,
the lifetime comes from UPLOAD_LIFETIME_MINUTES."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from kb.models import AuditEntry
from kb.services import uploads
from tests.kb.spreadsheets.builders import filled, xlsx_bytes
from tests.webapp.test_sheets import upload


@pytest.fixture
def app_config(app_config):
    return {**app_config, "UPLOAD_LIFETIME_MINUTES": 5}


def test_each_upload_is_audited_and_the_quota_is_enforced(world, make_user, login, client):
    make_user("department", "950", username="ceshi")
    login(client, "ceshi")
    content = xlsx_bytes([filled()])
    for _ in range(uploads.MAX_PENDING_UPLOADS):
        assert upload(client, content).status_code == 302
    refused = upload(client, content)
    assert refused.status_code == 403 and "尚未确认或取消" in refused.get_data(as_text=True)
    with world.extensions["kb"].sessions() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "upload")).all()
    assert len(rows) == uploads.MAX_PENDING_UPLOADS
    assert {row.actor for row in rows} == {"ceshi"} and rows[0].after["bytes"] == len(content)
    assert rows[0].department == "950"


def test_the_lifetime_is_configured(world):
    from webapp.views.sheets import _uploads

    with world.test_request_context():
        assert _uploads().lifetime == dt.timedelta(minutes=5)

"""Change log and audit log as people read them (issue 16): lists as lists, Chinese labels, names
instead of login ids, the changed fields marked."""
from __future__ import annotations

import re

from sqlalchemy import select

from kb.models import AuditEntry, User
from tests.webapp.test_editing import form_of


def test_change_log_and_audit_entry_are_readable(world, client, make_user, login):
    make_user("finance", username="caizheng")
    make_user("admin", username="guanli")
    with world.extensions["kb"].sessions() as session:
        session.scalar(select(User).where(User.username == "caizheng")).display_name = "王会计"
        session.commit()
    login(client, "caizheng")
    data = form_of(client.get("/indicators/WJ-006/edit").get_data(as_text=True))
    data.update(keywords="高血压、慢病", target="65")
    assert client.post("/indicators/WJ-006/edit", data=data).status_code == 302
    history = client.get("/indicators/WJ-006").get_data(as_text=True)
    assert "关键词：" in history and "高血压、慢病" in history
    assert "['" not in history and "[]" not in history
    assert "王会计（caizheng）" in history  # the name, with the login id for matching

    login(client, "guanli")
    listing = client.get("/audit/?action=update").get_data(as_text=True)
    assert "王会计（caizheng）" in listing and "财政" in listing
    with world.extensions["kb"].sessions() as session:
        entry_id = session.scalar(select(AuditEntry.id).where(AuditEntry.action == "update",
                                                              AuditEntry.entity_key == "WJ-006"))
    page = client.get(f"/audit/{entry_id}").get_data(as_text=True)
    changed = re.findall(r'<tr data-field="(\w+)" class="is-changed">', page)
    assert set(changed) == {"keywords", "target"}, changed
    assert "<th scope=\"row\">关键词" in page and "<ins class=\"ins\">高血压、慢病</ins>" in page
    assert "<th scope=\"row\">keywords" not in page


def test_audit_labels_every_recorded_action_and_object_in_chinese():
    from webapp.views.readable import ACTION_LABELS, ENTITY_LABELS, show

    for action in ("import", "add_indicators", "denied", "approve", "review", "password_reset", "unpropose"):
        assert action in ACTION_LABELS, action
    assert ENTITY_LABELS["route"] and ENTITY_LABELS["goal"]
    assert show("admin", "role") == "管理员" and show("certified", "status") == "专家已审定"
    assert show([], "keywords") == "（空）" and show(["高血压", "慢病"]) == "高血压、慢病"
    assert show([{"kind": "政策文件", "title": "办法", "doc_no": "财〔2021〕1号"}]) == "政策文件：办法（财〔2021〕1号）"


def test_export_file_names_carry_the_local_date(world, client, make_user, login, monkeypatch):
    """Issue 16: at 01:30 Beijing time the file said yesterday (the UTC date) while the page said today."""
    import datetime as dt
    from urllib.parse import unquote

    import kb.services.board as board

    late_evening_utc = dt.datetime(2025, 3, 1, 17, 30, tzinfo=dt.timezone.utc)  # 2025-03-02 01:30 in Beijing
    monkeypatch.setattr(board, "utcnow", lambda: late_evening_utc)
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    page = client.get("/workflow/board").get_data(as_text=True)
    assert "2025-03-02 01:30" in page
    disposition = unquote(client.get("/workflow/board.xlsx").headers["Content-Disposition"])
    assert "推进情况-20250302.xlsx" in disposition
    world.config["KB_TIMEZONE"] = "UTC"  # the zone is a setting
    disposition = unquote(client.get("/workflow/board.xlsx").headers["Content-Disposition"])
    assert "推进情况-20250301.xlsx" in disposition

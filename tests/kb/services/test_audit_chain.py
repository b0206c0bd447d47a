"""The audit log's hash chain (issue 14 item 10): every row hashes its content and the previous row's
hash; an edit made offline, with the append-only triggers dropped, is found and named."""
from __future__ import annotations

from sqlalchemy import select, text

from kb.migrations.audit_protection import install_audit_protection, remove_audit_protection
from kb.models import AuditEntry
from kb.models.audit import GENESIS
from kb.services.audit import Actor, record_change, set_request_id, verify_chain
from webapp.cli import main


def write_rows(session, count: int = 5) -> list[int]:
    actor = Actor("tester", "finance")
    set_request_id("req-123")
    try:
        # Several rows in one flush and in separate flushes: the chain must hold across both.
        for number in range(count):
            record_change(session, actor, "update", "indicator", f"T-{number:03}", after={"n": number},
                          summary=f"第 {number} 次")
            if number % 2:
                session.flush()
        session.commit()
    finally:
        set_request_id("")
    ids = list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
    session.rollback()  # end the read: PostgreSQL's DROP TRIGGER in tamper() waits for every reader of the table
    return ids


def test_rows_are_chained_and_carry_request_id_and_result(session):
    ids = write_rows(session)
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert rows[0].prev_hash == GENESIS or rows[0].prev_hash
    for before, after in zip(rows, rows[1:]):
        assert after.prev_hash == before.row_hash
    assert {row.request_id for row in rows if row.id in ids} == {"req-123"}
    assert {row.result for row in rows} == {"ok"}
    report = verify_chain(session)
    assert report.ok and report.checked == len(rows)


def tamper(engine, statement: str, **parameters) -> None:
    """An offline edit: a raw connection that drops the triggers, edits, and puts them back."""
    with engine.begin() as connection:
        remove_audit_protection(connection)
        connection.execute(text(statement), parameters)
        install_audit_protection(connection)


def test_an_offline_edit_is_found_and_named(session, engine):
    ids = write_rows(session)
    tamper(engine, "UPDATE audit_log SET summary = '改过' WHERE id = :id", id=ids[2])
    session.rollback()  # end the read snapshot taken before the edit
    report = verify_chain(session)
    assert not report.ok
    assert report.problems[0][0] == ids[2] and f"#{ids[2]}" in report.problems[0][1] and "被修改" in report.problems[0][1]


def test_a_deleted_row_is_found(session, engine):
    ids = write_rows(session)
    tamper(engine, "DELETE FROM audit_log WHERE id = :id", id=ids[2])
    session.rollback()  # end the read snapshot taken before the edit
    report = verify_chain(session)
    assert [row_id for row_id, _ in report.problems] == [ids[3]]


def test_a_rewritten_hash_does_not_hide_an_edit(session, engine):
    # Recomputing the edited row's own hash breaks the link of the next row.
    ids = write_rows(session)
    row = session.get(AuditEntry, ids[1])
    row_values = {name: getattr(row, name) for name in ("actor",)}
    assert row_values
    session.rollback()
    tamper(engine, "UPDATE audit_log SET actor = 'x', row_hash = :h WHERE id = :id", id=ids[1], h="f" * 64)
    session.rollback()  # end the read snapshot taken before the edit
    problems = dict(verify_chain(session).problems)
    assert ids[1] in problems and ids[2] in problems


def test_kb_audit_verify_exits_1_naming_the_row(session, engine, runner):
    ids = write_rows(session)
    assert runner.invoke(main, ["audit", "verify"]).exit_code == 0
    tamper(engine, "UPDATE audit_log SET summary = '改过' WHERE id = :id", id=ids[0])
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1 and f"审计记录 #{ids[0]}" in result.output

"""Database-level protection of the audit log (security.md SEC-AUD-3, REL-3).

The ORM already refuses to change or delete audit rows; these triggers make the database refuse
it too, whatever client connects: no UPDATE ever, and no DELETE of a row younger than the legal
minimum retention (《网络安全法》第二十一条/第二十三条：网络日志留存不少于六个月 → 184 days).
Older rows may only be removed by the retention purge, which archives them first.

Revision 0001 installs version 1 of these triggers; a change to them needs a new revision.
"""
from __future__ import annotations

from sqlalchemy import Connection

#: The legal floor in days; the AUDIT_RETENTION_DAYS setting can only be longer.
MINIMUM_RETENTION_DAYS = 184

UPDATE_REFUSED = "审计日志只允许追加，不能修改（audit_log is append-only）"
DELETE_REFUSED = "审计日志未满法定留存期（184 天），不能删除（audit_log retention）"

_SQLITE = (
    f"""CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{UPDATE_REFUSED}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_log_retention BEFORE DELETE ON audit_log
    WHEN OLD.at > datetime('now', '-{MINIMUM_RETENTION_DAYS} days')
    BEGIN SELECT RAISE(ABORT, '{DELETE_REFUSED}'); END""",
)

_POSTGRESQL = (
    f"""CREATE OR REPLACE FUNCTION audit_log_protect() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION '{UPDATE_REFUSED}' USING ERRCODE = 'insufficient_privilege';
      END IF;
      IF OLD.at > now() - interval '{MINIMUM_RETENTION_DAYS} days' THEN
        RAISE EXCEPTION '{DELETE_REFUSED}' USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN OLD;
    END $$""",
    "DROP TRIGGER IF EXISTS audit_log_protect ON audit_log",
    """CREATE TRIGGER audit_log_protect BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_protect()""",
)


def install_audit_protection(connection: Connection) -> None:
    """Create the triggers (idempotent) on the connection's database."""
    for statement in _statements(connection.dialect.name):
        connection.exec_driver_sql(statement)


def remove_audit_protection(connection: Connection) -> None:
    """Drop the triggers (only a downgrade below revision 0001 does this)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_update")
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_retention")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_protect ON audit_log")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS audit_log_protect()")


def _statements(dialect: str) -> tuple[str, ...]:
    if dialect == "sqlite":
        return _SQLITE
    if dialect == "postgresql":
        return _POSTGRESQL
    return ()  # other databases: the ORM guard only (check-deploy reports it)

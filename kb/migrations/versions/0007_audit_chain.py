"""audit log: request id, department and result fields; hash chain (prev_hash, row_hash)

Revision ID: 0007
Revises: 0006

Rows written before this revision keep NULL hashes: ``kb audit verify`` reports how many rows are
outside the chain and checks every row after them. The append-only triggers stay as they are
(adding columns does not touch them).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


COLUMNS = (
    ('request_id', lambda: sa.Column('request_id', sa.String(length=64), server_default='', nullable=False)),
    ('department', lambda: sa.Column('department', sa.String(length=32), server_default='', nullable=False)),
    ('result', lambda: sa.Column('result', sa.String(length=20), server_default='ok', nullable=False)),
    ('prev_hash', lambda: sa.Column('prev_hash', sa.String(length=64), nullable=True)),
    ('row_hash', lambda: sa.Column('row_hash', sa.String(length=64), nullable=True)),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    present = {column['name'] for column in inspector.get_columns('audit_log')}
    # Only what is missing: an unversioned database made from newer models already has the columns.
    # Plain ADD COLUMN (not batch mode): a batch rebuild of audit_log on SQLite would drop its triggers.
    for name, column in COLUMNS:
        if name not in present:
            op.add_column('audit_log', column())
    if 'ix_audit_log_row_hash' not in {index['name'] for index in inspector.get_indexes('audit_log')}:
        op.create_index(op.f('ix_audit_log_row_hash'), 'audit_log', ['row_hash'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_log_row_hash'), table_name='audit_log')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        for column in ('row_hash', 'prev_hash', 'result', 'department', 'request_id'):
            batch_op.drop_column(column)
    from kb.migrations.audit_protection import install_audit_protection

    install_audit_protection(op.get_bind())  # the batch rebuild on SQLite dropped the triggers

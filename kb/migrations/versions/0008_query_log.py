"""query log (检索日志): one row per search; no user id, no address (issue 12 item 5)

Revision ID: 0008
Revises: 0007
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # An unversioned database made from newer models (create_all, then adopted) has the table already.
    if 'query_log' in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        'query_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('query', sa.String(length=200), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=False),
        sa.Column('hits', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('department', sa.String(length=32), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('opened_rank', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_query_log')),
    )
    with op.batch_alter_table('query_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_query_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_query_log_query'), ['query'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('query_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_query_log_query'))
        batch_op.drop_index(batch_op.f('ix_query_log_at'))
    op.drop_table('query_log')

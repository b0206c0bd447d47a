"""检索分析：不是同义词的猜测 — guessed expansions finance turned down (issue 12)

Revision ID: 0011
Revises: 0010

The table starts empty: until finance rejects a guess, search expands exactly as before.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('rejected_guesses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=50), nullable=False),
    sa.Column('term', sa.String(length=50), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_guesses')),
    sa.UniqueConstraint('source', 'term', name=op.f('uq_rejected_guesses_source'))
    )
    with op.batch_alter_table('rejected_guesses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejected_guesses_active'), ['active'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rejected_guesses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejected_guesses_active'))

    op.drop_table('rejected_guesses')

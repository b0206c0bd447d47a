"""句向量缓存: sentence vectors of indicator texts, by digest (issue 12)

Revision ID: 0010
Revises: 0009

The table starts empty; the next index rebuild (or each indexed edit) fills it.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('meaning_vectors',
    sa.Column('digest', sa.String(length=40), nullable=False),
    sa.Column('vector', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_meaning_vectors'))
    )


def downgrade() -> None:
    op.drop_table('meaning_vectors')

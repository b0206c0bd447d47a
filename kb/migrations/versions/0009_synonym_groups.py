"""检索同义词组: synonym groups maintained by finance in the web UI (issue 12)

Revision ID: 0009
Revises: 0008

The table starts empty; ``kb init`` (and loading the library into an empty table) seeds it from
``kb/indicators/synonyms.yaml``. Until then search keeps using the YAML file, so upgrading changes nothing.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('synonym_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('retired_reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_synonym_groups'))
    )
    with op.batch_alter_table('synonym_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_synonym_groups_active'), ['active'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('synonym_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_synonym_groups_active'))
    op.drop_table('synonym_groups')

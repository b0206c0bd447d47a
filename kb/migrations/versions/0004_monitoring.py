"""运行监控: monitoring rounds, per-project entries, per-indicator entries and light rule versions

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('monitoring_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('cut_off', sa.Date(), nullable=False),
    sa.Column('scope', sa.Enum('amount', 'warned', name='roundscope', native_enum=False, length=14), nullable=False),
    sa.Column('min_amount', sa.Float(), nullable=True),
    sa.Column('source_round_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('open', 'closed', name='roundstatus', native_enum=False, length=14), nullable=False),
    sa.Column('rules_version', sa.Integer(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('closed_by', sa.String(length=64), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['source_round_id'], ['monitoring_rounds.id'], name=op.f('fk_monitoring_rounds_source_round_id_monitoring_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_rounds'))
    )
    with op.batch_alter_table('monitoring_rounds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_rounds_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_rounds_year'), ['year'], unique=False)

    op.create_table('monitoring_rule_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_rule_versions'))
    )
    op.create_table('monitoring_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('budget', sa.Float(), nullable=False),
    sa.Column('executed', sa.Float(), nullable=True),
    sa.Column('budget_light', sa.Enum('green', 'yellow', 'red', name='light', native_enum=False, length=14), nullable=True),
    sa.Column('goal_light', sa.Enum('green', 'yellow', 'red', name='light', native_enum=False, length=14), nullable=True),
    sa.Column('filled_by', sa.String(length=64), nullable=False),
    sa.Column('filled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_monitoring_entries_department_id_departments')),
    sa.ForeignKeyConstraint(['project_id'], ['budget_projects.id'], name=op.f('fk_monitoring_entries_project_id_budget_projects')),
    sa.ForeignKeyConstraint(['round_id'], ['monitoring_rounds.id'], name=op.f('fk_monitoring_entries_round_id_monitoring_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_entries')),
    sa.UniqueConstraint('round_id', 'project_id', name='uq_monitoring_entries_round_project')
    )
    with op.batch_alter_table('monitoring_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_entries_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_entries_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_entries_round_id'), ['round_id'], unique=False)

    op.create_table('monitoring_indicators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('goal_row_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('indicator_code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level1', sa.String(length=50), nullable=False),
    sa.Column('nature', sa.String(length=8), nullable=False),
    sa.Column('operator', sa.String(length=8), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=50), nullable=False),
    sa.Column('value_to_date', sa.String(length=200), nullable=False),
    sa.Column('expected', sa.String(length=200), nullable=False),
    sa.Column('outlook', sa.Enum('确定能', '有可能', '完全不可能', name='outlook', native_enum=False, length=13), nullable=True),
    sa.Column('completion', sa.Float(), nullable=True),
    sa.Column('light', sa.Enum('green', 'yellow', 'red', name='light', native_enum=False, length=14), nullable=True),
    sa.Column('deviation_reason', sa.Text(), nullable=False),
    sa.Column('corrective_measure', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['monitoring_entries.id'], name=op.f('fk_monitoring_indicators_entry_id_monitoring_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['goal_row_id'], ['goal_rows.id'], name=op.f('fk_monitoring_indicators_goal_row_id_goal_rows'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_indicators'))
    )
    with op.batch_alter_table('monitoring_indicators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_indicators_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_indicators_goal_row_id'), ['goal_row_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('monitoring_indicators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitoring_indicators_goal_row_id'))
        batch_op.drop_index(batch_op.f('ix_monitoring_indicators_entry_id'))

    op.drop_table('monitoring_indicators')
    with op.batch_alter_table('monitoring_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitoring_entries_round_id'))
        batch_op.drop_index(batch_op.f('ix_monitoring_entries_project_id'))
        batch_op.drop_index(batch_op.f('ix_monitoring_entries_department_id'))

    op.drop_table('monitoring_entries')
    op.drop_table('monitoring_rule_versions')
    with op.batch_alter_table('monitoring_rounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitoring_rounds_year'))
        batch_op.drop_index(batch_op.f('ix_monitoring_rounds_status'))

    op.drop_table('monitoring_rounds')

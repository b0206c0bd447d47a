"""release 0.1.0: the foundation schema

The tables of the first release (departments, indicator sets, indicators and their basis, users,
the audit log) and the database-level protection of the audit log. Frozen: never edit a revision
that has shipped; add a new one.

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 14:54:28.090784

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from kb.migrations.audit_protection import install_audit_protection, remove_audit_protection


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('entity_type', sa.String(length=50), nullable=False),
    sa.Column('entity_key', sa.String(length=100), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_entity_key'), ['entity_key'], unique=False)

    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('pilot', sa.Boolean(), nullable=False),
    sa.Column('functions', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['departments.id'], name=op.f('fk_departments_parent_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('code', name=op.f('uq_departments_code'))
    )
    op.create_table('indicators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level1', sa.String(length=50), nullable=False),
    sa.Column('level2', sa.String(length=50), nullable=False),
    sa.Column('nature', sa.Enum('定量', '定性', name='nature', native_enum=False, length=10), nullable=False),
    sa.Column('operator', sa.String(length=8), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=50), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('formula', sa.Text(), nullable=False),
    sa.Column('data_source', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('remarks', sa.Text(), nullable=False),
    sa.Column('projects', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('state', sa.Enum('active', 'retired', name='indicatorstate', native_enum=False, length=15), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_indicators_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicators')),
    sa.UniqueConstraint('code', name=op.f('uq_indicators_code'))
    )
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicators_department_id'), ['department_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.Enum('department', 'finance', 'expert', 'admin', name='role', native_enum=False, length=18), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_users_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('indicator_basis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('政策文件', '行业标准', '历史标准', '计划标准', '三定方案', '其他', name='basiskind', native_enum=False, length=12), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('doc_no', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_indicator_basis_indicator_id_indicators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_basis'))
    )
    with op.batch_alter_table('indicator_basis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicator_basis_indicator_id'), ['indicator_id'], unique=False)

    op.create_table('indicator_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'confirmed', 'certified', 'superseded', name='setstatus', native_enum=False, length=18), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('frozen_indicators', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('department_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('department_confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('finance_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finance_confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('certified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('certified_by_id', sa.Integer(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['certified_by_id'], ['users.id'], name=op.f('fk_indicator_sets_certified_by_id_users')),
    sa.ForeignKeyConstraint(['department_confirmed_by_id'], ['users.id'], name=op.f('fk_indicator_sets_department_confirmed_by_id_users')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_indicator_sets_department_id_departments')),
    sa.ForeignKeyConstraint(['finance_confirmed_by_id'], ['users.id'], name=op.f('fk_indicator_sets_finance_confirmed_by_id_users')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_indicator_sets_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_sets')),
    sa.UniqueConstraint('department_id', 'version', name='uq_indicator_sets_department_version')
    )
    with op.batch_alter_table('indicator_sets', schema=None) as batch_op:
        batch_op.create_index('uq_indicator_sets_one_current', ['department_id'], unique=True, sqlite_where=sa.text('is_current IS 1'), postgresql_where=sa.text('is_current IS true'))

    install_audit_protection(op.get_bind())


def downgrade() -> None:
    """Downgrade schema."""
    remove_audit_protection(op.get_bind())
    with op.batch_alter_table('indicator_sets', schema=None) as batch_op:
        batch_op.drop_index('uq_indicator_sets_one_current', sqlite_where=sa.text('is_current IS 1'), postgresql_where=sa.text('is_current IS true'))

    op.drop_table('indicator_sets')
    with op.batch_alter_table('indicator_basis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicator_basis_indicator_id'))

    op.drop_table('indicator_basis')
    op.drop_table('users')
    with op.batch_alter_table('indicators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicators_department_id'))

    op.drop_table('indicators')
    op.drop_table('departments')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_entity_key'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_actor'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')

"""tables added during the first production release

New tables: api_tokens, budget_projects, change_requests, favourites, goal_reviews, goal_row_comments, goal_rows, performance_goals, recent_views, review_assignments, review_comments, review_requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:02:33.661021

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('budget_projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('fiscal_amount', sa.Float(), nullable=True),
    sa.Column('kind', sa.Enum('新增', '延续', name='projectkind', native_enum=False, length=10), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('period', sa.String(length=100), nullable=False),
    sa.Column('implementing_unit', sa.String(length=200), nullable=False),
    sa.Column('contact', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_budget_projects_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_projects'))
    )
    with op.batch_alter_table('budget_projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_budget_projects_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_budget_projects_year'), ['year'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('change_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('add', 'modify', 'retire', name='changekind', native_enum=False, length=14), nullable=False),
    sa.Column('indicator_code', sa.String(length=32), nullable=False),
    sa.Column('proposed', sa.JSON(), nullable=True),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_name', sa.String(length=64), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('status', sa.Enum('pending', 'accepted', 'declined', 'withdrawn', name='changestatus', native_enum=False, length=17), nullable=False),
    sa.Column('decided_by_name', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_change_requests_department_id_departments')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_change_requests_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_requests'))
    )
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_requests_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_change_requests_indicator_code'), ['indicator_code'], unique=False)

    op.create_table('favourites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_favourites_indicator_id_indicators'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_favourites_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_favourites')),
    sa.UniqueConstraint('user_id', 'indicator_id', name='uq_favourites_user_indicator')
    )
    with op.batch_alter_table('favourites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_favourites_user_id'), ['user_id'], unique=False)

    op.create_table('performance_goals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('long_term_objective', sa.Text(), nullable=False),
    sa.Column('annual_objective', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'returned', 'approved', name='goalstatus', native_enum=False, length=17), nullable=False),
    sa.Column('review_round', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_by', sa.String(length=64), nullable=False),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.String(length=64), nullable=False),
    sa.Column('frozen', sa.JSON(), nullable=True),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['budget_projects.id'], name=op.f('fk_performance_goals_project_id_budget_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_performance_goals')),
    sa.UniqueConstraint('project_id', name=op.f('uq_performance_goals_project_id'))
    )
    with op.batch_alter_table('performance_goals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_performance_goals_status'), ['status'], unique=False)

    op.create_table('recent_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('viewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_recent_views_indicator_id_indicators'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recent_views_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recent_views')),
    sa.UniqueConstraint('user_id', 'indicator_id', name='uq_recent_views_user_indicator')
    )
    with op.batch_alter_table('recent_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recent_views_user_id'), ['user_id'], unique=False)

    op.create_table('goal_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=64), nullable=False),
    sa.Column('reviewer_role', sa.String(length=20), nullable=False),
    sa.Column('verdict', sa.Enum('优', '良', '中', '差', name='verdict', native_enum=False, length=9), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['performance_goals.id'], name=op.f('fk_goal_reviews_goal_id_performance_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goal_reviews'))
    )
    with op.batch_alter_table('goal_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goal_reviews_goal_id'), ['goal_id'], unique=False)

    op.create_table('goal_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=True),
    sa.Column('indicator_code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level1', sa.String(length=50), nullable=False),
    sa.Column('level2', sa.String(length=50), nullable=False),
    sa.Column('nature', sa.String(length=8), nullable=False),
    sa.Column('operator', sa.String(length=8), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=50), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('formula', sa.Text(), nullable=False),
    sa.Column('basis_note', sa.String(length=500), nullable=False),
    sa.Column('remarks', sa.String(length=500), nullable=False),
    sa.Column('proposed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['performance_goals.id'], name=op.f('fk_goal_rows_goal_id_performance_goals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_goal_rows_indicator_id_indicators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goal_rows'))
    )
    with op.batch_alter_table('goal_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goal_rows_goal_id'), ['goal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_goal_rows_indicator_code'), ['indicator_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_goal_rows_indicator_id'), ['indicator_id'], unique=False)

    op.create_table('review_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('indicator_code', sa.String(length=32), nullable=True),
    sa.Column('indicator_name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('accept', 'revise', 'remove', 'general', 'return', name='commentkind', native_enum=False, length=15), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=64), nullable=False),
    sa.Column('author_role', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_by_name', sa.String(length=64), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_review_comments_author_id_users')),
    sa.ForeignKeyConstraint(['set_id'], ['indicator_sets.id'], name=op.f('fk_review_comments_set_id_indicator_sets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_comments'))
    )
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_comments_set_id'), ['set_id'], unique=False)

    op.create_table('review_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', name='reviewstatus', native_enum=False, length=14), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_review_requests_requested_by_id_users')),
    sa.ForeignKeyConstraint(['set_id'], ['indicator_sets.id'], name=op.f('fk_review_requests_set_id_indicator_sets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_requests'))
    )
    with op.batch_alter_table('review_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_requests_set_id'), ['set_id'], unique=False)

    op.create_table('goal_row_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('row_id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=True),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['goal_reviews.id'], name=op.f('fk_goal_row_comments_review_id_goal_reviews'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['row_id'], ['goal_rows.id'], name=op.f('fk_goal_row_comments_row_id_goal_rows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goal_row_comments'))
    )
    with op.batch_alter_table('goal_row_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goal_row_comments_review_id'), ['review_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_goal_row_comments_row_id'), ['row_id'], unique=False)

    op.create_table('review_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.Enum('certify', 'return', name='reviewdecision', native_enum=False, length=15), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['expert_id'], ['users.id'], name=op.f('fk_review_assignments_expert_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['review_requests.id'], name=op.f('fk_review_assignments_request_id_review_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_assignments')),
    sa.UniqueConstraint('request_id', 'expert_id', name='uq_review_assignments_request_expert')
    )
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_assignments_expert_id'), ['expert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_assignments_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('review_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_assignments_request_id'))
        batch_op.drop_index(batch_op.f('ix_review_assignments_expert_id'))

    op.drop_table('review_assignments')
    with op.batch_alter_table('goal_row_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goal_row_comments_row_id'))
        batch_op.drop_index(batch_op.f('ix_goal_row_comments_review_id'))

    op.drop_table('goal_row_comments')
    with op.batch_alter_table('review_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_requests_set_id'))

    op.drop_table('review_requests')
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_comments_set_id'))

    op.drop_table('review_comments')
    with op.batch_alter_table('goal_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goal_rows_indicator_id'))
        batch_op.drop_index(batch_op.f('ix_goal_rows_indicator_code'))
        batch_op.drop_index(batch_op.f('ix_goal_rows_goal_id'))

    op.drop_table('goal_rows')
    with op.batch_alter_table('goal_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goal_reviews_goal_id'))

    op.drop_table('goal_reviews')
    with op.batch_alter_table('recent_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recent_views_user_id'))

    op.drop_table('recent_views')
    with op.batch_alter_table('performance_goals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_performance_goals_status'))

    op.drop_table('performance_goals')
    with op.batch_alter_table('favourites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_favourites_user_id'))

    op.drop_table('favourites')
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_requests_indicator_code'))
        batch_op.drop_index(batch_op.f('ix_change_requests_department_id'))

    op.drop_table('change_requests')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('budget_projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_budget_projects_year'))
        batch_op.drop_index(batch_op.f('ix_budget_projects_department_id'))

    op.drop_table('budget_projects')

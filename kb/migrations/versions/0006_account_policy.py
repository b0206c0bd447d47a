"""account policy: password history, usernames unique case-insensitively, enabled_at

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union
import unicodedata

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _key(username: str) -> str:
    # As kb.models.user.normalise_username (copied: a revision must not change when the code does).
    return unicodedata.normalize("NFKC", username or "").strip().lower()


def upgrade() -> None:
    op.create_table(
        'password_history',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_history_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_password_history')),
    )
    with op.batch_alter_table('password_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_history_user_id'), ['user_id'], unique=False)

    # Plain ALTER TABLE (no batch copy): SQLite cannot recreate a table other tables reference while
    # foreign keys are enforced, so the new column stays nullable and is unique through an index.
    # A 0.1.0 database adopted from create_all (kb.migrations.upgrade_database) may have them already.
    existing = {column['name'] for column in sa.inspect(op.get_bind()).get_columns('users')}
    if 'username_key' not in existing:
        op.add_column('users', sa.Column('username_key', sa.String(length=64), nullable=True))
    if 'enabled_at' not in existing:
        op.add_column('users', sa.Column('enabled_at', sa.DateTime(timezone=True), nullable=True))

    connection = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer()), sa.column('username', sa.String()),
                     sa.column('username_key', sa.String()))
    seen: dict[str, str] = {}
    clashes = []
    for user_id, username in connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)):
        key = _key(username)
        if key in seen:
            clashes.append(f"{seen[key]} / {username}")
        seen[key] = username
        connection.execute(users.update().where(users.c.id == user_id).values(username_key=key))
    if clashes:
        raise RuntimeError(
            "以下账户的用户名只有大小写或全角/半角不同，升级后不允许并存："
            + "；".join(clashes) + "。请先停用并改名其中一个（或删除多余账户）后再运行 kb db upgrade。")

    indexes = {index['name'] for index in sa.inspect(connection).get_indexes('users')}
    if 'ix_users_username_key' not in indexes:
        op.create_index(op.f('ix_users_username_key'), 'users', ['username_key'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_users_username_key'), table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('enabled_at')
        batch_op.drop_column('username_key')
    with op.batch_alter_table('password_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_history_user_id'))
    op.drop_table('password_history')

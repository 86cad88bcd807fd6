"""broker account close (closed_at); ids never reused on SQLite (AUTOINCREMENT)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 00:00:00

SQLite hands the highest rowid out again once that row is deleted, unless the
table is declared AUTOINCREMENT, which only ``CREATE TABLE`` can do: every table
keyed by a surrogate ``id`` is rebuilt (create, copy, drop, rename). PostgreSQL
sequences never go back, so there only the column is added.

The rebuild drops tables other tables refer to. With foreign keys enforced that
drop would cascade-delete the referring rows, so on SQLite this revision runs
only with enforcement off (``migrations/env.py`` turns it off for migrations and
checks every reference once they are done).

Downgrade removes ``closed_at`` and keeps AUTOINCREMENT (ids that are never
reused are not something an older revision depends on).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.models.base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table whose primary key is a BigId ``id`` (user_risk_limits is keyed by its user,
# token_families by a UUID string).
ID_TABLES = (
    'users',
    'refresh_tokens',
    'audit_log',
    'broker_accounts',
    'strategy_subscriptions',
    'signals',
    'orders',
    'fills',
    'positions',
    'ledger_entries',
    'risk_decisions',
    'trading_halts',
)


def upgrade() -> None:
    bind = op.get_bind()
    closed_at = sa.Column('closed_at', shared.models.base.UTCDateTime(timezone=True), nullable=True)
    if bind.dialect.name != 'sqlite':
        op.add_column('broker_accounts', closed_at)
        return
    if bind.exec_driver_sql('PRAGMA foreign_keys').scalar():
        raise RuntimeError(
            'revision 0003 rebuilds SQLite tables and must run with foreign keys off '
            '(PRAGMA foreign_keys=OFF before the transaction), or the rebuild would '
            'cascade-delete rows'
        )
    for table in ID_TABLES:
        with op.batch_alter_table(
            table, recreate='always', table_kwargs={'sqlite_autoincrement': True}
        ) as batch_op:
            if table == 'broker_accounts':
                batch_op.add_column(closed_at)


def downgrade() -> None:
    with op.batch_alter_table(
        'broker_accounts', table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.drop_column('closed_at')

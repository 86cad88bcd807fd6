"""candles uploaded for backtests

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.models.base

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "backtest_datasets",
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("size_bytes", BigId, nullable=False),
        sa.Column("bars", BigId, nullable=False),
        sa.Column("gaps", BigId, nullable=False),
        sa.Column("first_bar", shared.models.base.UTCDateTime(), nullable=False),
        sa.Column("last_bar", shared.models.base.UTCDateTime(), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", shared.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_backtest_datasets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtest_datasets")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_backtest_datasets_user", "backtest_datasets", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_backtest_datasets_user", table_name="backtest_datasets")
    op.drop_table("backtest_datasets")

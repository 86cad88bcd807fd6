"""grid points of sweeps run as Celery tasks, until their run ranks them

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "backtest_sweep_points",
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("point", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["backtest_runs.id"],
            name=op.f("fk_backtest_sweep_points_run_id_backtest_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "point", name=op.f("pk_backtest_sweep_points")),
    )


def downgrade() -> None:
    op.drop_table("backtest_sweep_points")

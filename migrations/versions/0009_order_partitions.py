"""order_partitions and order_processors: partition leases with fencing tokens, and members

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONS = 16  # shared.contracts.ORDER_PARTITIONS when this revision was written


def upgrade() -> None:
    partitions = op.create_table(
        "order_partitions",
        sa.Column("partition", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("token", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("expires_at", shared.models.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("partition", name=op.f("pk_order_partitions")),
    )
    op.bulk_insert(partitions, [{"partition": p, "token": 0} for p in range(PARTITIONS)])
    op.create_table(
        "order_processors",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("seen_at", shared.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_order_processors")),
    )


def downgrade() -> None:
    op.drop_table("order_processors")
    op.drop_table("order_partitions")

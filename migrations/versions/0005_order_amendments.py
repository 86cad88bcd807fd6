"""orders.amend_*: the terms of a change asked for and not yet applied (PENDING_UPDATE)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.models.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("amend_quantity", "amend_limit_price", "amend_trigger_price")


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        for name in COLUMNS:
            batch.add_column(
                sa.Column(name, shared.models.base.Money(precision=28, scale=8), nullable=True)
            )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)

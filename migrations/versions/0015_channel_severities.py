"""alert_channels.severities: each severity on or off, in place of min_severity (a threshold)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# In rank order, as they stood when this revision was written.
_SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")

_channels = sa.table(
    "alert_channels",
    sa.column("id"),
    sa.column("min_severity", sa.String(length=10)),
    sa.column("severities", sa.JSON()),
)
# SQLite rebuilds the table: it keeps its ids never reused, as the model says.
_KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("alert_channels", table_kwargs=_KEEP) as batch_op:
        batch_op.add_column(sa.Column("severities", sa.JSON(), nullable=True))
    bind = op.get_bind()
    # A threshold meant "this severity and every one above it".
    for rank, severity in enumerate(_SEVERITIES):
        bind.execute(
            sa.update(_channels)
            .where(_channels.c.min_severity == severity)
            .values(severities=list(_SEVERITIES[rank:]))
        )
    bind.execute(
        sa.update(_channels)
        .where(_channels.c.severities.is_(None))
        .values(severities=list(_SEVERITIES))
    )
    with op.batch_alter_table("alert_channels", table_kwargs=_KEEP) as batch_op:
        batch_op.alter_column("severities", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("min_severity")


def downgrade() -> None:
    with op.batch_alter_table("alert_channels", table_kwargs=_KEEP) as batch_op:
        batch_op.add_column(sa.Column("min_severity", sa.String(length=10), nullable=True))
    bind = op.get_bind()
    # A threshold holds a set only from its lowest severity up: a set with a gap (CRITICAL
    # and WARNING) comes back as its lowest severity, and lets through what it had left out.
    rows = bind.execute(sa.select(_channels.c.id, _channels.c.severities)).all()
    for channel_id, severities in rows:
        chosen = [s for s in _SEVERITIES if s in (severities or ())] or ["INFO"]
        bind.execute(
            sa.update(_channels).where(_channels.c.id == channel_id).values(min_severity=chosen[0])
        )
    with op.batch_alter_table("alert_channels", table_kwargs=_KEEP) as batch_op:
        batch_op.alter_column("min_severity", existing_type=sa.String(length=10), nullable=False)
        batch_op.drop_column("severities")

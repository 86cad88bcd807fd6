"""alerts, alert channels, price alerts and deliveries

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.models.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_channels",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("min_severity", sa.String(length=10), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secrets_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", shared.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", shared.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_alert_channels_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_channels")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alert_channels_user", "alert_channels", ["user_id"], unique=False)
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", shared.models.base.UTCDateTime(), nullable=False),
        sa.Column("read_at", shared.models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_alerts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_alerts_alert_id")),
        sa.UniqueConstraint("user_id", "source_key", name=op.f("uq_alerts_user_id_source_key")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alerts_created", "alerts", ["created_at"], unique=False)
    op.create_index("ix_alerts_user_created", "alerts", ["user_id", "created_at"], unique=False)
    op.create_table(
        "price_alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("condition", sa.String(length=16), nullable=False),
        sa.Column("price", shared.models.base.Money(precision=28, scale=8), nullable=True),
        sa.Column("percent", shared.models.base.Money(precision=28, scale=8), nullable=True),
        sa.Column("window_minutes", sa.Integer(), nullable=True),
        sa.Column("repeat", sa.String(length=10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("last_triggered_at", shared.models.base.UTCDateTime(), nullable=True),
        sa.Column(
            "last_triggered_price", shared.models.base.Money(precision=28, scale=8), nullable=True
        ),
        sa.Column("trigger_count", sa.Integer(), nullable=False),
        sa.Column("created_at", shared.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", shared.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_price_alerts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_alerts")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_price_alerts_active", "price_alerts", ["active", "symbol"], unique=False)
    op.create_index("ix_price_alerts_user", "price_alerts", ["user_id"], unique=False)
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", shared.models.base.UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", shared.models.base.UTCDateTime(), nullable=False),
        sa.Column("sent_at", shared.models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_deliveries_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["alert_channels.id"],
            name=op.f("fk_alert_deliveries_channel_id_alert_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_alert_deliveries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint(
            "alert_id", "channel_id", name=op.f("uq_alert_deliveries_alert_id_channel_id")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_alert_deliveries_channel_id"), "alert_deliveries", ["channel_id"], unique=False
    )
    op.create_index(
        "ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_at"], unique=False
    )
    op.create_index("ix_alert_deliveries_user", "alert_deliveries", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_user", table_name="alert_deliveries")
    op.drop_index("ix_alert_deliveries_due", table_name="alert_deliveries")
    op.drop_index(op.f("ix_alert_deliveries_channel_id"), table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_price_alerts_user", table_name="price_alerts")
    op.drop_index("ix_price_alerts_active", table_name="price_alerts")
    op.drop_table("price_alerts")
    op.drop_index("ix_alerts_user_created", table_name="alerts")
    op.drop_index("ix_alerts_created", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_alert_channels_user", table_name="alert_channels")
    op.drop_table("alert_channels")

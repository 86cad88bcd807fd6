"""risk_verdicts: one row per run of the risk chain (its checks' verdicts as a list), in
place of one row per check in risk_decisions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 23:00:00
"""

from collections.abc import Sequence
from itertools import groupby

import sqlalchemy as sa
from alembic import op

import shared.models.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CHUNK = 1000


def _decisions_table() -> sa.Table:
    return op.create_table(
        "risk_decisions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("check_name", sa.String(length=48), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("ts", shared.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_risk_decisions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_risk_decisions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_decisions")),
        sqlite_autoincrement=True,
    )


def _verdicts_table() -> sa.Table:
    return op.create_table(
        "risk_verdicts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("ts", shared.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_risk_verdicts_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_risk_verdicts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_verdicts")),
        sqlite_autoincrement=True,
    )


def upgrade() -> None:
    bind = op.get_bind()
    verdicts = _verdicts_table()
    with op.batch_alter_table("risk_verdicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_verdicts_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_verdicts_user_id"), ["user_id"], unique=False)
    # One run of the chain stamped all its checks with one time: fold them into a row.
    decisions = sa.table(
        "risk_decisions",
        *(sa.column(c) for c in ("id", "user_id", "order_id", "check_name", "approved")),
        sa.column("code"),
        sa.column("message"),
        sa.column("ts", shared.models.base.UTCDateTime(timezone=True)),
    )
    rows = bind.execute(sa.select(decisions).order_by(decisions.c.id)).all()
    out = []
    for (user_id, order_id, ts), run in groupby(rows, key=lambda r: (r.user_id, r.order_id, r.ts)):
        checks = [[r.check_name, r.approved, r.code, r.message] for r in run]
        approved = all(c[1] for c in checks)
        out.append(
            {
                "user_id": user_id,
                "order_id": order_id,
                "approved": approved,
                "checks": checks,
                "ts": ts,
            }
        )
    for start in range(0, len(out), _CHUNK):
        bind.execute(sa.insert(verdicts), out[start : start + _CHUNK])
    op.drop_table("risk_decisions")


def downgrade() -> None:
    bind = op.get_bind()
    decisions = _decisions_table()
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_decisions_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_decisions_user_id"), ["user_id"], unique=False)
    verdicts = sa.table(
        "risk_verdicts",
        *(sa.column(c) for c in ("id", "user_id", "order_id", "approved")),
        sa.column("checks", sa.JSON()),
        sa.column("ts", shared.models.base.UTCDateTime(timezone=True)),
    )
    rows = bind.execute(sa.select(verdicts).order_by(verdicts.c.id)).all()
    out = [
        {
            "user_id": r.user_id,
            "order_id": r.order_id,
            "check_name": check,
            "approved": approved,
            "code": code,
            "message": message,
            "ts": r.ts,
        }
        for r in rows
        for check, approved, code, message in r.checks
    ]
    for start in range(0, len(out), _CHUNK):
        bind.execute(sa.insert(decisions), out[start : start + _CHUNK])
    op.drop_table("risk_verdicts")

"""Migrations are the only schema source: models and migrations never drift."""

from __future__ import annotations

import asyncio

import pytest

from algotrade.migrate import check, upgrade


async def test_models_match_migrations_on_sqlite(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'drift.db'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(check, url)


@pytest.mark.service
async def test_models_match_migrations_on_postgres(postgres_server):
    postgres_server.create_database("drift")
    url = postgres_server.dsn("drift")
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(check, url)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.service)])
async def test_risk_decisions_fold_into_one_verdict_per_run_and_back(backend, request, tmp_path):
    """0013 folds the per-check rows of each run of the chain into one verdict row (the
    checks in order), and its downgrade unfolds them again."""
    import json
    from datetime import UTC, datetime
    from decimal import Decimal

    import sqlalchemy as sa
    from alembic import command
    from sqlalchemy import text

    from algotrade.migrate import alembic_config
    from order_processor.records import row_from_intent
    from shared.config import Settings
    from shared.contracts import OrderIntent, Side
    from shared.db import create_engine, create_sessionmaker, transaction
    from shared.models import BrokerAccount, User
    from shared.models.base import UTCDateTime

    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'fold.db'}"
    else:
        pg = request.getfixturevalue("postgres_server")
        pg.create_database("fold")
        url = pg.dsn("fold")
    await asyncio.to_thread(upgrade, url, "0012")
    engine = create_engine(Settings(_env_file=None, database_url=url), url)
    t1 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    t2 = datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    rows = [  # order 1: a pass of two checks, then a denied change; order 2: one denial
        (1, "kill_switch", True, "ok", "", t1),
        (1, "max_position_size", True, "ok", "within", t1),
        (1, "kill_switch", True, "ok", "modify: ", t2),
        (1, "max_position_size", False, "too_big", "modify: too big", t2),
        (2, "kill_switch", False, "halted", "halted", t1),
    ]
    decisions = sa.table(
        "risk_decisions",
        *(sa.column(c) for c in ("user_id", "order_id", "check_name", "approved", "code")),
        sa.column("message"),
        sa.column("ts", UTCDateTime()),
    )
    async with transaction(create_sessionmaker(engine)) as session:
        user = User(email="fold@example.com", password_hash="-")
        session.add(user)
        await session.flush()
        account = BrokerAccount(
            user_id=user.id,
            broker="paper",
            label="main",
            starting_capital=Decimal(1000),
            currency="INR",
        )
        session.add(account)
        await session.flush()
        orders = [
            row_from_intent(
                OrderIntent(
                    client_order_id=f"k{n}",
                    user_id=user.id,
                    broker_account_id=account.id,
                    symbol="RELIANCE",
                    side=Side.BUY,
                    quantity=Decimal(1),
                    created_at=t1,
                ),
                "h",
            )
            for n in (1, 2)
        ]
        session.add_all(orders)
        await session.flush()
        ids = {1: orders[0].id, 2: orders[1].id}
        await session.execute(
            sa.insert(decisions),
            [
                {
                    "user_id": user.id,
                    "order_id": ids[o],
                    "check_name": c,
                    "approved": a,
                    "code": code,
                    "message": m,
                    "ts": ts,
                }
                for o, c, a, code, m, ts in rows
            ],
        )
    await asyncio.to_thread(upgrade, url, "0013")
    async with engine.connect() as conn:
        verdicts = (
            await conn.execute(
                text("SELECT order_id, approved, checks FROM risk_verdicts ORDER BY id")
            )
        ).all()
    got = [(o, bool(a), c if isinstance(c, list) else json.loads(c)) for o, a, c in verdicts]
    first, second = ids[1], ids[2]
    assert got == [
        (
            first,
            True,
            [["kill_switch", True, "ok", ""], ["max_position_size", True, "ok", "within"]],
        ),
        (
            first,
            False,
            [
                ["kill_switch", True, "ok", "modify: "],
                ["max_position_size", False, "too_big", "modify: too big"],
            ],
        ),
        (second, False, [["kill_switch", False, "halted", "halted"]]),
    ]
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0012")
    async with engine.connect() as conn:
        back = (
            await conn.execute(
                text(
                    "SELECT order_id, check_name, approved, code, message FROM risk_decisions "
                    "ORDER BY id"
                )
            )
        ).all()
    await engine.dispose()
    assert [(o, c, bool(a), code, m) for o, c, a, code, m in back] == [
        (ids[o], c, a, code, m) for o, c, a, code, m, _ in rows
    ]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.service)])
async def test_channel_threshold_becomes_the_severities_at_or_above_it_and_back(
    backend, request, tmp_path
):
    """0015 turns each channel's ``min_severity`` into the set it let through; its downgrade
    gives back the threshold."""
    import json
    from datetime import UTC, datetime

    import sqlalchemy as sa
    from alembic import command
    from sqlalchemy import text

    from algotrade.migrate import alembic_config
    from shared.config import Settings
    from shared.db import create_engine, create_sessionmaker, transaction
    from shared.models import User
    from shared.models.base import UTCDateTime

    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'severities.db'}"
    else:
        pg = request.getfixturevalue("postgres_server")
        pg.create_database("severities")
        url = pg.dsn("severities")
    await asyncio.to_thread(upgrade, url, "0014")
    engine = create_engine(Settings(_env_file=None, database_url=url), url)
    now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    thresholds = ["CRITICAL", "INFO", "ERROR", "WARNING"]
    channels = sa.table(
        "alert_channels",
        *(sa.column(c) for c in ("user_id", "kind", "name", "enabled", "min_severity")),
        sa.column("kinds", sa.JSON()),
        sa.column("config", sa.JSON()),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    async with transaction(create_sessionmaker(engine)) as session:
        user = User(email="sev@example.com", password_hash="-")
        session.add(user)
        await session.flush()
        await session.execute(
            sa.insert(channels),
            [
                {
                    "user_id": user.id,
                    "kind": "webhook",
                    "name": f"c{n}",
                    "enabled": True,
                    "min_severity": threshold,
                    "kinds": ["kill_switch"],
                    "config": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for n, threshold in enumerate(thresholds)
            ],
        )
    await asyncio.to_thread(upgrade, url, "0015")
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT name, severities, kinds FROM alert_channels ORDER BY id")
            )
        ).all()
    decoded = [(n, s if isinstance(s, list) else json.loads(s), k) for n, s, k in rows]
    assert [(n, s) for n, s, _ in decoded] == [
        ("c0", ["CRITICAL"]),
        ("c1", ["INFO", "WARNING", "ERROR", "CRITICAL"]),
        ("c2", ["ERROR", "CRITICAL"]),
        ("c3", ["WARNING", "ERROR", "CRITICAL"]),
    ]
    assert all("kill_switch" in str(k) for _, _, k in decoded)  # the rest of the row is kept

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0014")
    async with engine.connect() as conn:
        back = (
            await conn.execute(sa.text("SELECT min_severity FROM alert_channels ORDER BY id"))
        ).scalars()
        assert list(back) == thresholds
    await engine.dispose()

"""Revision 0003 on SQLite: tables rebuilt with AUTOINCREMENT keep their rows; ids never recur."""

from __future__ import annotations

import asyncio
import sqlite3

from algotrade.migrate import upgrade
from shared.models import Base

NOW = "2025-01-01 00:00:00.000000"


def _seed(path: str) -> None:
    """A user, two accounts and an order written at revision 0002 (the second account is the
    highest id, so without AUTOINCREMENT its id would be handed out again after a delete)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(
        "INSERT INTO users (id, email, full_name, password_hash, role, is_active, token_version,"
        " totp_enabled, failed_logins, created_at, updated_at)"
        f" VALUES (1, 'a@example.com', '', '-', 'trader', 1, 0, 0, 0, '{NOW}', '{NOW}')"
    )
    for account_id in (1, 2):
        db.execute(
            "INSERT INTO broker_accounts (id, user_id, broker, label, starting_capital, currency,"
            f" is_active, created_at, updated_at) VALUES ({account_id}, 1, 'paper',"
            f" 'a{account_id}', '50000', 'INR', 1, '{NOW}', '{NOW}')"
        )
    db.execute(
        "INSERT INTO orders (id, user_id, broker_account_id, client_order_id, request_hash, symbol,"
        " side, quantity, order_type, product, validity, status, filled_quantity, filled_value,"
        " fill_count, origin, created_at, updated_at) VALUES (1, 1, 1, 'c1', 'h', 'INFY', 'BUY',"
        f" '1', 'MARKET', 'MIS', 'DAY', 'CANCELLED', '0', '0', 0, 'manual', '{NOW}', '{NOW}')"
    )
    db.commit()
    db.close()


async def test_rebuild_keeps_rows_and_ids_are_never_reused(tmp_path):
    path = tmp_path / "ids.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url, "0002")
    _seed(str(path))

    await asyncio.to_thread(upgrade, url)

    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys=ON")
    ddl = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    keyed_by_id = [
        t.name for t in Base.metadata.sorted_tables if t.dialect_options["sqlite"]["autoincrement"]
    ]
    assert len(keyed_by_id) >= 12
    assert [t for t in keyed_by_id if "AUTOINCREMENT" not in ddl[t]] == []
    assert db.execute("SELECT count(*) FROM orders").fetchone() == (1,)
    assert db.execute("SELECT id, closed_at FROM broker_accounts").fetchall() == [
        (1, None),
        (2, None),
    ]
    db.execute("DELETE FROM broker_accounts WHERE id = 2")
    new_id = db.execute(
        "INSERT INTO broker_accounts (user_id, broker, label, starting_capital, currency,"
        f" is_active, created_at, updated_at) VALUES (1, 'paper', 'b', '1', 'INR', 1, '{NOW}',"
        f" '{NOW}') RETURNING id"
    ).fetchone()
    db.close()
    assert new_id == (3,)

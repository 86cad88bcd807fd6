"""``algotrade status``: the parts, the markets by their calendars, the feeds and the halts."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from shared.probe_server import ProbeServer
from shared.tickstore import LocalTickStore, to_ns

NO_API = ("--api-url", "http://127.0.0.1:9")  # nothing listens there: the probe fails at once


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


def _status(cli, *args):
    result = cli("status", *NO_API, "--json", *args)
    return result, json.loads(result.stdout)


def _check(report, name):
    return next(c for c in report["checks"] if c["name"] == name)


def test_status_of_a_migrated_embedded_platform_is_healthy(cli):
    result, report = _status(cli)

    assert result.exit_code == 0, result.output
    assert report["healthy"] is True
    assert _check(report, "database")["ok"] is True
    assert "at head" in _check(report, "database")["detail"]
    assert _check(report, "event bus")["ok"] is None  # in-process: nothing to reach
    assert _check(report, "tick store")["ok"] is True
    api = _check(report, "api")
    assert (api["ok"], api["required"]) == (False, False)  # reported, not required


def test_status_reads_market_sessions_from_the_calendars(cli):
    cli.context.clock = FixedClock(datetime(2025, 6, 10, 5, 0, tzinfo=UTC))  # Tue 10:30 IST

    _, report = _status(cli)

    markets = {m["exchange"]: m for m in report["markets"]}
    assert markets["NSE"]["open"] is True
    assert markets["NSE"]["next_change"] == "2025-06-10T10:00:00Z"  # 15:30 IST
    assert markets["NASDAQ"]["open"] is False
    assert markets["NASDAQ"]["next_change"] == "2025-06-10T13:30:00Z"  # 09:30 New York
    assert (markets["BINANCE"]["open"], markets["BINANCE"]["session"]) == (True, "24x7")


def test_status_shows_the_newest_tick_per_feed(cli):
    tick_at = datetime(2025, 6, 10, 4, 59, 30, tzinfo=UTC)
    asyncio.run(_store_tick(cli, "INFY", tick_at))
    cli.context.clock = FixedClock(datetime(2025, 6, 10, 5, 0, tzinfo=UTC))

    _, report = _status(cli)

    nse = next(f for f in report["feeds"] if f["exchange"] == "NSE")
    assert (nse["last_symbol"], nse["age_seconds"]) == ("INFY", 30.0)
    assert nse["symbols"] == 50


async def _store_tick(cli, symbol, ts):
    """A tick in the embedded tick store's files, as `algotrade run` flushes them."""
    store = LocalTickStore(cli.context.settings.data_dir / "ticks")
    await store.write_ticks(
        np.array([symbol], dtype=object),
        np.array([to_ns(ts)], dtype=np.int64),
        np.array([1500.0]),
        np.array([10.0]),
    )
    await store.close()


def test_status_lists_active_halts_with_who_set_them(cli):
    cli("halt", "--all", "--reason", "exchange outage")
    cli("halt", cli.book.trader_email, "--reason", "review", "--as", cli.book.admin_email)

    _, report = _status(cli)

    assert [(h["user"], h["created_by"], h["reason"]) for h in report["halts"]] == [
        (None, "system", "exchange outage"),
        (cli.book.trader_email, cli.book.admin_email, "review"),
    ]


def test_status_table(cli):
    result = cli("status", *NO_API)

    assert result.exit_code == 0, result.output
    for title in ("Services", "Markets", "Feeds", "No active halts"):
        assert title in result.stdout


def test_status_of_an_unmigrated_database_fails(cli):
    cli.context.settings.data_dir.joinpath("algotrade.db").unlink()

    result, report = _status(cli)

    assert result.exit_code == 1
    database = _check(report, "database")
    assert database["ok"] is False and "not migrated" in database["detail"]
    assert report["halts"] == []


@pytest.fixture
def unready_api() -> Iterator[str]:
    """A service that runs (/health 200) while its Redis is away (/ready 503), as the API
    answers then; served from a thread of its own, since the command runs its own loop."""

    async def redis_away() -> None:
        raise ConnectionError("redis is away")

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = ProbeServer("127.0.0.1", 0, service="api", checks={"redis": redis_away})
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_status_asks_the_api_whether_it_is_ready_not_only_alive(cli, unready_api):
    result = cli("status", "--api-url", unready_api, "--json")

    api = _check(json.loads(result.stdout), "api")
    assert api["ok"] is False
    assert api["detail"] == f"{unready_api}/ready: HTTP 503 (redis not answering)"
    assert result.exit_code == 0  # the HTTP services are reported, not required

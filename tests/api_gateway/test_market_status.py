"""GET /market/status and GET /market/quotes: market state and quotes at any hour."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np

from algotrade.migrate import upgrade
from api_gateway.app import create_app
from api_gateway.context import GatewayContext
from shared.bus import InProcessEventBus
from shared.calendar import IST
from shared.clock import EventClock
from shared.contracts import CandleMsg, Timeframe, candle_channel
from tests.api_gateway.conftest import settings_for
from tests.api_gateway.factories import make_trader

R = "/api/v1"
# Days before the wall clock: the gateway's clock may go back (a session stays valid), not ahead.
SATURDAY = datetime(2025, 12, 6, 17, 5, tzinfo=UTC)
FRIDAY_OPEN = datetime(2025, 12, 5, 9, 15, tzinfo=IST)
THURSDAY_OPEN = datetime(2025, 12, 4, 9, 15, tzinfo=IST)
MONDAY_OPEN = datetime(2025, 12, 8, 9, 15, tzinfo=IST)


def _at(api, now: datetime) -> None:
    """Stop the gateway's clock at ``now`` (sign in before: tokens expire by the wall clock)."""
    api.ctx.clock = EventClock(now)


def _candle(tf: Timeframe, start: datetime, end: datetime, o, h, low, c, v=100.0) -> CandleMsg:
    return CandleMsg(
        symbol="RELIANCE", timeframe=tf, start=start, end=end, open=o, high=h, low=low,
        close=c, volume=v, trades=10,
    )  # fmt: skip


def _minute(start: datetime, close: float, high: float | None = None, low: float | None = None):
    return _candle(
        Timeframe.M1, start, start + timedelta(minutes=1), close, high or close, low or close, close
    )


async def test_status_lists_every_exchange_with_its_state_and_next_open(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    _at(api, SATURDAY)

    r = await api.client.get(f"{R}/market/status", headers=trader.headers)

    assert r.status_code == 200, r.text
    by_exchange = {s["exchange"]: s for s in r.json()}
    assert set(by_exchange) == {"NSE", "BINANCE", "NASDAQ"}
    nse = by_exchange["NSE"]
    assert nse["is_open"] is False and nse["reason"] == "weekend"
    assert nse["next_open"] == "2025-12-08T03:45:00Z"
    assert nse["message"] == "NSE is closed (weekend); it opens Mon 08 Dec 09:15 IST"
    assert by_exchange["BINANCE"]["is_open"] is True


async def test_status_of_one_exchange_and_an_unknown_one(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    _at(api, datetime(2025, 12, 25, 6, 0, tzinfo=UTC))

    one = await api.client.get(
        f"{R}/market/status", headers=trader.headers, params={"exchange": "nse"}
    )
    unknown = await api.client.get(
        f"{R}/market/status", headers=trader.headers, params={"exchange": "LSE"}
    )

    assert one.status_code == 200 and [s["holiday"] for s in one.json()] == ["Christmas"]
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_exchange"


async def test_weekend_quote_is_the_last_close_with_the_change_since_the_session_before(
    sqlite_api,
):
    api = sqlite_api
    trader = await api.trader()
    _at(api, SATURDAY)
    store = api.ctx.tickstore()
    thursday_close = THURSDAY_OPEN.replace(hour=15, minute=30)
    friday_close = FRIDAY_OPEN.replace(hour=15, minute=30)
    await store.write_candles(
        [
            _candle(Timeframe.D1, THURSDAY_OPEN, thursday_close, 2400, 2420, 2390, 2400),
            _candle(Timeframe.D1, FRIDAY_OPEN, friday_close, 2401, 2460, 2380, 2442),
            _minute(friday_close - timedelta(minutes=1), 2442),
        ]
    )

    r = await api.client.get(
        f"{R}/market/quotes", headers=trader.headers, params={"symbols": "RELIANCE"}
    )

    assert r.status_code == 200, r.text
    [quote] = r.json()
    assert quote["price"] == 2442 and quote["prev_close"] == 2400
    assert quote["change"] == 42 and quote["change_pct"] == 1.75
    assert (quote["open"], quote["high"], quote["low"]) == (2401, 2460, 2380)
    assert quote["market_open"] is False and quote["exchange"] == "NSE"


async def test_quote_during_the_session_ranges_over_closed_hours_minutes_and_the_last_tick(
    sqlite_api,
):
    api = sqlite_api
    now = MONDAY_OPEN + timedelta(hours=1, minutes=3)
    trader = await api.trader()
    _at(api, now)
    store = api.ctx.tickstore()
    friday_close = FRIDAY_OPEN.replace(hour=15, minute=30)
    await store.write_candles(
        [
            _candle(Timeframe.D1, FRIDAY_OPEN, friday_close, 2401, 2460, 2380, 2500),
            _candle(
                Timeframe.H1, MONDAY_OPEN, MONDAY_OPEN + timedelta(hours=1), 2510, 2530, 2490, 2520
            ),
            _minute(MONDAY_OPEN + timedelta(hours=1), 2521, high=2541),
            _minute(MONDAY_OPEN + timedelta(hours=1, minutes=1), 2519, low=2485),
        ]
    )
    tick_ns = int((now - timedelta(seconds=5)).timestamp()) * 1_000_000_000
    await store.write_ticks(
        np.array(["RELIANCE"], dtype=object),
        np.array([tick_ns]),
        np.array([2550.0]),
        np.array([3.0]),
    )

    r = await api.client.get(
        f"{R}/market/quotes", headers=trader.headers, params={"symbols": "RELIANCE"}
    )

    [quote] = r.json()
    assert quote["price"] == 2550 and quote["prev_close"] == 2500 and quote["change"] == 50
    assert quote["open"] == 2510 and quote["high"] == 2550 and quote["low"] == 2485
    assert quote["market_open"] is True


async def test_quotes_without_symbols_cover_every_instrument(sqlite_api):
    api = sqlite_api
    trader = await api.trader()

    r = await api.client.get(f"{R}/market/quotes", headers=trader.headers)

    assert r.status_code == 200
    symbols = {q["symbol"] for q in r.json()}
    assert {"RELIANCE", "BTCUSDT", "AAPL"} <= symbols and len(symbols) >= 60
    assert all(q["price"] is None for q in r.json())  # nothing has traded in this store


async def test_quotes_refuse_unknown_symbols_and_empty_lists(sqlite_api):
    api = sqlite_api
    trader = await api.trader()

    unknown = await api.client.get(
        f"{R}/market/quotes", headers=trader.headers, params={"symbols": "RELIANCE,NOPE"}
    )
    empty = await api.client.get(
        f"{R}/market/quotes", headers=trader.headers, params={"symbols": " , "}
    )

    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_instrument"
    assert empty.status_code == 422 and empty.json()["code"] == "no_symbols"


async def test_the_gateway_builds_a_quote_again_when_a_minute_candle_of_it_closes_on_the_bus(
    request, tmp_path
):
    """Quotes are kept past the TTL (0 here) between closes, and built again after one."""
    settings = settings_for("sqlite", request, tmp_path, latest_tick_ttl_seconds=0)
    await asyncio.to_thread(upgrade, settings.migration_url)
    bus = InProcessEventBus()
    ctx = GatewayContext.build(settings, bus=bus)
    app = create_app(ctx)
    store = ctx.tickstore()
    await store.write_candles([_minute(MONDAY_OPEN, 2510)])
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        trader = await make_trader(client)
        ctx.clock = EventClock(MONDAY_OPEN + timedelta(minutes=5))
        for _ in range(100):
            if ctx.quotes().following:
                break
            await asyncio.sleep(0.01)

        async def quote() -> dict:
            r = await client.get(
                f"{R}/market/quotes", headers=trader.headers, params={"symbols": "RELIANCE"}
            )
            return r.json()[0]

        first, again = await quote(), await quote()
        builds = ctx.quotes().builds
        closed = _minute(MONDAY_OPEN + timedelta(minutes=1), 2480)
        await bus.publish(candle_channel("RELIANCE", Timeframe.M1), closed)
        await asyncio.sleep(0.05)
        after = await quote()

    assert first == again and builds == 1
    assert ctx.quotes().builds == 2
    assert first["low"] == 2510 and after["low"] == 2480 and after["volume"] == 200

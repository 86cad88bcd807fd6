"""A subscription shows "warming up (k of n bars)" only while its symbols' history is short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.contracts import CandleMsg, Timeframe
from shared.tickstore import TickStoreUnavailable
from tests.strategy_workers.walk_subscriptions import _broker_account, subscription_body

R = "/api/v1"
T0 = datetime(2026, 12, 4, 3, 45, tzinfo=UTC)
BAR = timedelta(minutes=5)


def _history(symbol: str, bars: int) -> list[CandleMsg]:
    return [
        CandleMsg(
            symbol=symbol,
            timeframe=Timeframe.M5,
            start=T0 + i * BAR,
            end=T0 + (i + 1) * BAR,
            open=100,
            high=101,
            low=99,
            close=100,
            volume=10,
            trades=1,
        )
        for i in range(bars)
    ]


async def _subscribe(api, trader, **overrides):
    account = await _broker_account(api.client, trader)
    r = await api.client.post(
        f"{R}/subscriptions", headers=trader.headers, json=subscription_body(account, **overrides)
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_subscription_is_warming_up_while_its_least_served_symbol_is_short(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    await api.ctx.tickstore().write_candles(_history("INFY", 40) + _history("TCS", 7))

    created = await _subscribe(api, trader)  # ma_crossover 5/20 on INFY and TCS, 5m

    warmup = created["warmup"]
    assert warmup["needed"] == 21 and warmup["bars"] == 7 and warmup["ready"] is False
    assert warmup["status"] == "warming up (7 of 21 bars)"


async def test_with_enough_stored_history_the_subscription_is_ready(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    await api.ctx.tickstore().write_candles(_history("INFY", 40) + _history("TCS", 40))
    created = await _subscribe(api, trader)

    listed = await api.client.get(f"{R}/subscriptions", headers=trader.headers)
    one = await api.client.get(f"{R}/subscriptions/{created['id']}", headers=trader.headers)

    assert listed.json()["items"][0]["warmup"] == {
        "bars": 21,
        "needed": 21,
        "ready": True,
        "status": "ready",
    }
    assert one.json()["warmup"]["status"] == "ready"


class _DownStore:
    """A tick store whose backend is away."""

    async def query_candles(self, *args, **kwargs):
        raise TickStoreUnavailable("InfluxDB unreachable")


async def test_a_tick_store_outage_leaves_the_warmup_unknown_not_the_subscription(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    api.ctx.tick_store = _DownStore()

    created = await _subscribe(api, trader)

    assert created["warmup"] is None and created["status"] == "active"


async def test_parameters_needing_more_bars_than_live_windows_hold_are_refused(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    account = await _broker_account(api.client, trader)
    # an EMA of 150 reads 3 x 150 bars; windows hold the last 300 candles of a market
    body = subscription_body(account, params={"fast": 10, "slow": 150, "ma_type": "ema"})

    r = await api.client.post(f"{R}/subscriptions", headers=trader.headers, json=body)

    assert r.status_code == 422
    assert r.json()["code"] == "invalid_subscription"
    [detail] = r.json()["details"]
    assert detail["field"] == "params"
    assert "reads 450 bars" in detail["message"] and "last 300 candles" in detail["message"]
    listed = await api.client.get(f"{R}/subscriptions", headers=trader.headers)
    assert listed.json()["items"] == []


async def test_parameters_within_the_live_window_are_accepted(sqlite_api):
    api = sqlite_api
    trader = await api.trader()

    created = await _subscribe(api, trader, params={"fast": 10, "slow": 100, "ma_type": "ema"})

    assert created["warmup"]["needed"] == 300

"""Market data routes: catalog search, candle history from the tick store, quotes, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.contracts import CandleMsg, Timeframe

R = "/api/v1"
T0 = datetime(2026, 11, 23, 3, 45, tzinfo=UTC)


def _candle(i: int) -> CandleMsg:
    start = T0 + timedelta(minutes=i)
    return CandleMsg(
        symbol="RELIANCE",
        timeframe=Timeframe.M1,
        start=start,
        end=start + timedelta(minutes=1),
        open=2500 + i,
        high=2502 + i,
        low=2499 + i,
        close=2501 + i,
        volume=100,
        trades=7,
    )


async def test_instrument_search_finds_nifty_constituents_by_sector(sqlite_api):
    trader = await sqlite_api.trader()
    r = await sqlite_api.client.get(
        f"{R}/instruments", headers=trader.headers, params={"q": "RELI"}
    )
    assert r.status_code == 200
    assert "RELIANCE" in [i["symbol"] for i in r.json()]


async def test_candle_history_comes_from_the_store_in_order(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    store = api.ctx.tickstore()
    await store.write_candles([_candle(i) for i in range(5)])
    await store.flush()
    r = await api.client.get(
        f"{R}/market/candles",
        headers=trader.headers,
        params={"symbol": "reliance", "timeframe": "1m", "limit": 3},
    )
    assert r.status_code == 200, r.text
    closes = [c["close"] for c in r.json()["candles"]]
    assert closes == [2503, 2504, 2505]


async def test_unknown_symbol_bad_timeframe_and_inverted_range_are_clear_4xx(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    h = trader.headers
    unknown = await api.client.get(f"{R}/market/candles", headers=h, params={"symbol": "NOPE"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_instrument"
    bad_tf = await api.client.get(
        f"{R}/market/candles", headers=h, params={"symbol": "INFY", "timeframe": "7m"}
    )
    assert bad_tf.status_code == 422 and bad_tf.json()["details"][0]["field"] == "timeframe"
    inverted = await api.client.get(
        f"{R}/market/candles",
        headers=h,
        params={"symbol": "INFY", "from": "2026-11-23T10:00:00Z", "to": "2026-11-23T09:00:00Z"},
    )
    assert inverted.status_code == 422 and inverted.json()["code"] == "invalid_range"
    naive = await api.client.get(
        f"{R}/market/candles", headers=h, params={"symbol": "INFY", "from": "2026-11-23T10:00:00"}
    )
    assert naive.status_code == 422

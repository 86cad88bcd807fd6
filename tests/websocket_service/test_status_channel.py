"""The ``status`` channel: every exchange's market status at once, then each change."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import websockets

from shared.contracts import CHANNEL_MARKET_STATUS
from shared.market_status import market_status


async def _connect(live, trader):
    ws = await websockets.connect(live.ws_url)
    await ws.send(json.dumps({"op": "auth", "token": trader.access}))
    assert json.loads(await ws.recv())["op"] == "ready"
    await ws.send(json.dumps({"op": "subscribe", "channels": ["status"]}))
    ack = json.loads(await ws.recv())
    assert ack["op"] == "ack" and ack["channels"] == ["status"], ack
    return ws


async def _recv(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_subscribing_to_status_sends_each_exchange_at_once(live):
    ws = await _connect(live, await live.trader())

    frames = [await _recv(ws) for _ in range(3)]

    assert {f["channel"] for f in frames} == {"status"}
    by_exchange = {f["data"]["exchange"]: f["data"] for f in frames}
    assert set(by_exchange) == {"NSE", "BINANCE", "NASDAQ"}
    assert by_exchange["BINANCE"]["is_open"] is True
    assert by_exchange["NSE"]["message"].startswith("NSE is ")
    await ws.close()


async def test_a_status_change_on_the_bus_reaches_subscribers(live):
    ws = await _connect(live, await live.trader())
    for _ in range(3):
        await _recv(ws)
    christmas = market_status("NSE", datetime(2026, 12, 25, 6, 0, tzinfo=UTC))

    await live.bus.publish(CHANNEL_MARKET_STATUS, christmas)

    frame = await _recv(ws)
    assert frame["channel"] == "status"
    assert frame["data"]["holiday"] == "Christmas" and frame["data"]["is_open"] is False
    await ws.close()

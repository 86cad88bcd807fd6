"""Live feeds over WebSocket: authentication, public and private channels, isolation,
session revocation, and slow clients."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import websockets

from shared.contracts import OrderEvent, TickMsg, tick_channel, user_channel

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


async def _connect(live, trader, channels):
    ws = await websockets.connect(live.ws_url)
    await ws.send(json.dumps({"op": "auth", "token": trader.access}))
    assert json.loads(await ws.recv())["op"] == "ready"
    await ws.send(json.dumps({"op": "subscribe", "channels": channels}))
    ack = json.loads(await ws.recv())
    assert ack["op"] == "ack", ack
    return ws


async def _recv(ws, timeout=2.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def _order(user_id: int) -> OrderEvent:
    return OrderEvent(
        user_id=user_id,
        order_id=user_id,  # one order per user, as ids are unique
        version=1,
        broker_account_id=1,
        client_order_id="c1",
        symbol="INFY",
        side="BUY",
        order_type="MARKET",
        product="MIS",
        validity="DAY",
        status="OPEN",
        quantity=Decimal(1),
        filled_quantity=Decimal(0),
        origin="manual",
        created_at=NOW,
        ts=NOW,
    )


async def test_connection_without_a_valid_token_is_closed(live):
    async with websockets.connect(live.ws_url) as ws:
        await ws.send(json.dumps({"op": "auth", "token": "forged.token.value"}))
        with pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd.code == 1008


async def test_public_ticks_reach_subscribers(live):
    trader = await live.trader()
    ws = await _connect(live, trader, ["ticks:RELIANCE"])
    await live.bus.publish(
        tick_channel("RELIANCE"), TickMsg(symbol="RELIANCE", ts=NOW, price=2500.5, qty=10)
    )
    frame = await _recv(ws)
    assert frame["channel"] == "ticks:RELIANCE"
    assert frame["data"]["price"] == 2500.5
    await ws.close()


async def test_private_channel_carries_only_the_connected_users_data(live):
    alice, bob = await live.trader(), await live.trader()
    ws_a = await _connect(live, alice, ["orders"])
    ws_b = await _connect(live, bob, ["orders"])
    await live.bus.publish(user_channel(alice.id), _order(alice.id))
    got = await _recv(ws_a)
    assert got["channel"] == "orders" and got["data"]["user_id"] == alice.id
    with pytest.raises(TimeoutError):
        await _recv(ws_b, timeout=0.3)
    await ws_a.close()
    await ws_b.close()


async def test_unknown_channel_gets_a_clear_error(live):
    trader = await live.trader()
    async with websockets.connect(live.ws_url) as ws:
        await ws.send(json.dumps({"op": "auth", "token": trader.access}))
        await ws.recv()
        await ws.send(json.dumps({"op": "subscribe", "channels": ["user:1:orders"]}))
        reply = await _recv(ws)
    assert reply["op"] == "error" and "unknown channel" in reply["message"]


async def test_logout_closes_open_websockets_of_that_session(live):
    trader = await live.trader()
    ws = await _connect(live, trader, ["orders"])
    r = await live.client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {trader.access}"}
    )
    assert r.status_code == 204
    with pytest.raises(websockets.ConnectionClosed) as info:
        await _recv(ws, timeout=3)
    assert info.value.rcvd.code == 4001


async def test_a_stalled_client_does_not_hold_back_others(live):
    fast_trader, slow_trader = await live.trader(), await live.trader()
    fast = await _connect(live, fast_trader, ["ticks:INFY"])
    slow = await _connect(live, slow_trader, ["ticks:INFY"])
    slow.transport.pause_reading()  # the slow client stops reading entirely
    n = 500
    for i in range(n):
        await live.bus.publish(
            tick_channel("INFY"), TickMsg(symbol="INFY", ts=NOW, price=1500 + i * 0.05, qty=1)
        )
        await asyncio.sleep(0.001)
    prices = [(await _recv(fast))["data"]["price"] for _ in range(n)]
    assert prices == [1500 + i * 0.05 for i in range(n)]
    await fast.close()


async def test_a_binary_frame_after_auth_closes_with_1003_and_a_reason(live):
    trader = await live.trader()
    ws = await _connect(live, trader, ["orders"])

    await ws.send(b'{"op": "ping"}')

    with pytest.raises(websockets.ConnectionClosed) as info:
        await _recv(ws, timeout=3)
    assert info.value.rcvd is not None, "closed without a close frame"
    assert info.value.rcvd.code == 1003
    assert "binary" in info.value.rcvd.reason


async def test_a_binary_frame_instead_of_auth_closes_with_1003(live):
    async with websockets.connect(live.ws_url) as ws:
        await ws.send(b"\x00\x01")
        with pytest.raises(websockets.ConnectionClosed) as info:
            await _recv(ws, timeout=3)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1003

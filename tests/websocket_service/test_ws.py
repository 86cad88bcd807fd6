"""Live feeds over WebSocket: authentication, public and private channels, isolation,
session revocation, and slow clients."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
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


async def _short_lived_trader(live, seconds: int = 2):
    """A trader whose access tokens expire ``seconds`` after they are issued."""
    live.ws.jwt.access_ttl = timedelta(seconds=seconds)
    return await live.trader()


async def test_a_socket_is_closed_when_its_access_token_expires(live):
    trader = await _short_lived_trader(live)
    ws = await _connect(live, trader, ["orders"])

    with pytest.raises(websockets.ConnectionClosed) as info:
        await _recv(ws, timeout=5)

    assert info.value.rcvd is not None and info.value.rcvd.code == 4002
    assert "expired" in info.value.rcvd.reason
    for _ in range(100):  # the server forgets the socket once its close completes
        if live.hub.connections() == 0:
            break
        await asyncio.sleep(0.02)
    assert live.hub.connections() == 0


async def test_a_socket_re_authenticated_with_a_fresh_token_outlives_the_first(live):
    trader = await _short_lived_trader(live, seconds=3)
    ws = await _connect(live, trader, ["orders"])
    live.ws.jwt.access_ttl = timedelta(minutes=15)
    fresh = await live.client.post("/api/v1/auth/refresh", json={"refresh_token": trader.refresh})
    assert fresh.status_code == 200, fresh.text

    await ws.send(json.dumps({"op": "auth", "token": fresh.json()["access_token"]}))
    ack = await _recv(ws)
    await asyncio.sleep(3.5)  # past the first token's expiry
    await live.bus.publish(user_channel(trader.id), _order(trader.id))
    frame = await _recv(ws)

    assert ack["op"] == "ack" and ack["request"] == "auth" and ack["expires_at"]
    assert frame["channel"] == "orders" and frame["data"]["user_id"] == trader.id
    await ws.close()


async def test_re_authentication_with_a_bad_token_is_refused_and_changes_nothing(live):
    trader = await live.trader()
    ws = await _connect(live, trader, ["orders"])

    await ws.send(json.dumps({"op": "auth", "token": "forged.token.value"}))
    reply = await _recv(ws)
    await live.bus.publish(user_channel(trader.id), _order(trader.id))

    assert reply["op"] == "error" and "re-authentication failed" in reply["message"]
    assert (await _recv(ws))["channel"] == "orders"
    await ws.close()


async def test_one_user_holds_at_most_the_cap_of_sockets_and_others_are_unaffected(live):
    live.ws.max_connections_per_user = 3
    greedy, other = await live.trader(), await live.trader()
    held = [await _connect(live, greedy, ["orders"]) for _ in range(3)]

    async with websockets.connect(live.ws_url) as extra:
        await extra.send(json.dumps({"op": "auth", "token": greedy.access}))
        with pytest.raises(websockets.ConnectionClosed) as info:
            await _recv(extra, timeout=3)
    others = await _connect(live, other, ["orders"])

    assert info.value.rcvd is not None and info.value.rcvd.code == 1013
    assert "at most 3" in info.value.rcvd.reason
    await held[0].close()
    again = await _connect(live, greedy, ["orders"])  # a closed socket frees its place
    for ws in [*held[1:], others, again]:
        await ws.close()


async def test_halts_reach_the_halted_users_trading_channel_and_global_ones_everyone(live):
    from shared.contracts import CHANNEL_CONTROL, ControlEvent

    alice, bob = await live.trader(), await live.trader()
    ws_a = await _connect(live, alice, ["trading"])
    ws_b = await _connect(live, bob, ["trading"])

    await live.bus.publish(
        CHANNEL_CONTROL, ControlEvent(action="halt", user_id=alice.id, reason="risk", ts=NOW)
    )
    mine = await _recv(ws_a)
    with pytest.raises(TimeoutError):
        await _recv(ws_b, timeout=0.3)
    await live.bus.publish(CHANNEL_CONTROL, ControlEvent(action="halt", reason="all", ts=NOW))
    everyone = [await _recv(ws_a), await _recv(ws_b)]

    assert mine["channel"] == "trading"
    assert (mine["data"]["action"], mine["data"]["user_id"]) == ("halt", alice.id)
    assert all(f["data"]["user_id"] is None and f["data"]["reason"] == "all" for f in everyone)
    await ws_a.close()
    await ws_b.close()


async def test_a_halt_through_the_api_reaches_the_users_socket(live):
    trader = await live.trader()
    ws = await _connect(live, trader, ["trading"])

    r = await live.client.post(
        "/api/v1/trading/halt",
        headers={"Authorization": f"Bearer {trader.access}"},
        json={"reason": "panic"},
    )
    frame = await _recv(ws, timeout=3)

    assert r.status_code == 200, r.text
    assert frame["channel"] == "trading" and frame["data"]["action"] == "halt"
    await ws.close()

"""The administrators' live feed of every user's halts, resumes and liquidations
(``admin:trading``): admins only, ended at once when the role goes."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from sqlalchemy import update

from shared.models import User
from tests.api_gateway.factories import login


async def _connect(live, user):
    ws = await websockets.connect(live.ws_url)
    await ws.send(json.dumps({"op": "auth", "token": user.access}))
    assert json.loads(await ws.recv())["op"] == "ready"
    return ws


async def _subscribe(ws, channels):
    await ws.send(json.dumps({"op": "subscribe", "channels": channels}))
    return json.loads(await ws.recv())


async def _recv(ws, timeout=3.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _silent(ws, timeout=0.4) -> None:
    with pytest.raises(TimeoutError):
        await _recv(ws, timeout)


async def _halt_self(live, trader, reason="panic"):
    r = await live.client.post(
        "/api/v1/trading/halt", headers=trader.headers, json={"reason": reason}
    )
    assert r.status_code == 200, r.text


async def test_an_admin_follows_any_users_halt_and_resume_live(live):
    admin, alice = await live.admin(), await live.trader()
    ws = await _connect(live, admin)
    assert (await _subscribe(ws, ["admin:trading"]))["channels"] == ["admin:trading"]

    await _halt_self(live, alice)
    halted = await _recv(ws)
    r = await live.client.post("/api/v1/trading/resume", headers=alice.headers)
    resumed = await _recv(ws)

    assert r.status_code == 200, r.text
    assert halted["channel"] == "admin:trading"
    assert (halted["data"]["action"], halted["data"]["user_id"]) == ("halt", alice.id)
    assert halted["data"]["reason"] == "panic"
    assert (resumed["data"]["action"], resumed["data"]["user_id"]) == ("resume", alice.id)
    await ws.close()


async def test_a_trader_cannot_subscribe_to_the_admin_feed_nor_receive_others_halts(live):
    alice, bob = await live.trader(), await live.trader()
    ws = await _connect(live, bob)

    refused = await _subscribe(ws, ["admin:trading", "trading"])
    ack = await _recv(ws)  # the rest of the batch holds
    await _halt_self(live, alice)

    assert refused["op"] == "error" and "admin role required" in refused["message"]
    assert refused["channels"] == ["admin:trading"]
    assert ack["op"] == "ack" and ack["channels"] == ["trading"]
    await _silent(ws)  # neither on admin:trading nor on his own trading channel
    await ws.close()


async def test_a_demoted_admin_loses_the_feed_at_once(live):
    boss, deputy, alice = await live.admin(), await live.admin(), await live.trader()
    ws = await _connect(live, deputy)
    await _subscribe(ws, ["admin:trading"])

    r = await live.client.put(
        f"/api/v1/admin/users/{deputy.id}/role", headers=boss.headers, json={"role": "trader"}
    )
    lost = await _recv(ws)
    await _halt_self(live, alice)

    assert r.status_code == 200, r.text
    assert lost["op"] == "error" and lost["channels"] == ["admin:trading"]
    await _silent(ws)
    assert (await _subscribe(ws, ["admin:trading"]))["op"] == "error"
    await ws.close()


async def test_re_authenticating_without_the_admin_role_ends_the_feed(live):
    admin, alice = await live.admin(), await live.trader()
    ws = await _connect(live, admin)
    await _subscribe(ws, ["admin:trading"])
    # The role changes behind the API's back (no event): the next token shows it.
    async with live.ctx.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == admin.id).values(role="trader"))
    fresh = await login(live.client, admin.email)

    await ws.send(json.dumps({"op": "auth", "token": fresh["access_token"]}))
    lost, ack = await _recv(ws), await _recv(ws)
    await _halt_self(live, alice)

    assert lost["op"] == "error" and lost["channels"] == ["admin:trading"]
    assert ack["op"] == "ack" and ack["request"] == "auth"
    await _silent(ws)
    await ws.close()

"""The /ws endpoint: authenticate, then subscribe/unsubscribe to channels and receive frames.

Protocol (JSON text frames):
- client -> ``{"op": "auth", "token": "<access token>"}`` first, within ``auth_timeout``
  (API clients may send ``Authorization: Bearer`` on the upgrade request instead);
- client -> ``{"op": "subscribe" | "unsubscribe", "channels": ["ticks:RELIANCE", "orders"]}``;
- client -> ``{"op": "ping"}``;
- server -> ``{"channel": "...", "data": {...}}`` for data, ``{"op": "ack"|"error"|"pong", ...}``.

Binary frames are not part of the protocol: one closes the connection with 1003
(unsupported data) and a reason, before or after authentication.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Principal, authenticate
from shared.clock import Clock
from shared.errors import DomainError
from shared.security.jwt import JWTKeys
from websocket_service.channels import parse
from websocket_service.connection import CLOSE_POLICY, CLOSE_UNSUPPORTED, Connection
from websocket_service.hub import Hub

router = APIRouter()


@dataclass
class WsContext:
    sessions: async_sessionmaker[AsyncSession]
    jwt: JWTKeys
    clock: Clock
    hub: Hub
    auth_timeout: float = 5.0
    max_channels: int = 200
    max_messages_per_second: int = 20
    max_frame_bytes: int = 16 * 1024


BINARY_REFUSED = "binary frames are not supported: send JSON text frames"


def _reply(op: str, **fields: object) -> str:
    return orjson.dumps({"op": op, **fields}).decode()


async def _receive_text(ws: WebSocket) -> str | None:
    """The next text frame; None for a binary frame. A disconnect raises WebSocketDisconnect."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    return text if isinstance(text, str) else None


async def _authenticate(ws: WebSocket, ctx: WsContext) -> Principal | None:
    token = None
    header = ws.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:]
    if token is None:
        try:
            raw = await asyncio.wait_for(_receive_text(ws), ctx.auth_timeout)
            if raw is None:
                await ws.close(code=CLOSE_UNSUPPORTED, reason=BINARY_REFUSED)
                return None
            first = orjson.loads(raw) if len(raw) <= ctx.max_frame_bytes else {}
        except (TimeoutError, orjson.JSONDecodeError, WebSocketDisconnect):
            first = {}
        if isinstance(first, dict) and first.get("op") == "auth":
            token = first.get("token") if isinstance(first.get("token"), str) else None
    if not token:
        await ws.close(code=CLOSE_POLICY, reason="authenticate first: {op: auth, token}")
        return None
    try:
        async with ctx.sessions() as session:
            return await authenticate(session, ctx.jwt, token, ctx.clock.now())
    except DomainError as exc:
        await ws.close(code=CLOSE_POLICY, reason=exc.message[:120])
        return None


@router.websocket("/ws")
async def websocket_endpoint(ws: WebSocket) -> None:
    ctx: WsContext = ws.app.state.ws
    await ws.accept()
    principal = await _authenticate(ws, ctx)
    if principal is None:
        return
    conn = Connection(
        ws,
        principal.user.id,
        principal.session_id,
        max_queue=ctx.hub.max_queue,
        send_timeout=ctx.hub.send_timeout,
    )
    ctx.hub.add(conn)
    conn.start()
    conn.offer(_reply("ready", user_id=principal.user.id), private=True)
    window_start, count = time.monotonic(), 0
    try:
        while True:
            raw = await _receive_text(ws)
            if raw is None:
                conn.close_soon(CLOSE_UNSUPPORTED, BINARY_REFUSED)
                break
            now = time.monotonic()
            if now - window_start >= 1:
                window_start, count = now, 0
            count += 1
            if count > ctx.max_messages_per_second or len(raw) > ctx.max_frame_bytes:
                conn.close_soon(CLOSE_POLICY, "too many or too large messages")
                break
            _handle(ctx, conn, raw)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        ctx.hub.remove(conn)
        await conn.stop()  # a close asked for above goes out first


def _handle(ctx: WsContext, conn: Connection, raw: str) -> None:
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError:
        conn.offer(_reply("error", message="not JSON"), private=True)
        return
    op = msg.get("op") if isinstance(msg, dict) else None
    if op == "ping":
        conn.offer(_reply("pong"), private=True)
        return
    if op not in ("subscribe", "unsubscribe"):
        conn.offer(
            _reply("error", message="op must be auth, subscribe, unsubscribe or ping"), private=True
        )
        return
    names = msg.get("channels")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        conn.offer(_reply("error", message="channels must be a list of strings"), private=True)
        return
    try:
        parsed = [parse(n) for n in names]
    except ValueError as exc:
        conn.offer(_reply("error", message=str(exc)), private=True)
        return
    if op == "subscribe":
        if len(conn.channels | {c.name for c in parsed}) > ctx.max_channels:
            conn.offer(
                _reply("error", message=f"at most {ctx.max_channels} channels"), private=True
            )
            return
        for channel in parsed:
            ctx.hub.subscribe(conn, channel.name)
    else:
        for channel in parsed:
            ctx.hub.unsubscribe(conn, channel.name)
    conn.offer(_reply("ack", request=op, channels=sorted(conn.channels)), private=True)

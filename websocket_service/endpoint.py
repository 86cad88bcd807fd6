"""The /ws endpoint: authenticate, then subscribe/unsubscribe to channels and receive frames.

Protocol (JSON text frames):
- client -> ``{"op": "auth", "token": "<access token>"}`` first, within ``auth_timeout``
  (API clients may send ``Authorization: Bearer`` on the upgrade request instead);
- client -> ``{"op": "subscribe" | "unsubscribe", "channels": ["ticks:RELIANCE", "orders"]}``;
- client -> ``{"op": "ping"}``;
- client -> ``{"op": "auth", "token": "<fresh access token>"}`` again, any time: the
  connection then lives until that token expires. A connection whose token expires
  without one is closed with 4002; ``ready`` and the ``auth`` ack carry ``expires_at``;
- server -> ``{"channel": "...", "data": {...}}`` for data, ``{"op": "ack"|"error"|"pong", ...}``.

A user may hold ``max_connections_per_user`` connections to one process; one more is
closed with 1013 (try again later) right after authentication.

Binary frames are not part of the protocol: one closes the connection with 1003
(unsupported data) and a reason, before or after authentication.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Principal, authenticate
from shared.clock import Clock
from shared.errors import DomainError
from shared.models import Role
from shared.security.jwt import JWTKeys
from websocket_service.channels import ADMIN_ONLY, STATUS, parse
from websocket_service.connection import (
    CLOSE_BACKLOG,
    CLOSE_POLICY,
    CLOSE_TOKEN_EXPIRED,
    CLOSE_UNSUPPORTED,
    Connection,
)
from websocket_service.hub import Hub, admin_lost_frame
from websocket_service.status import snapshot_frames
from websocket_service.transport import sink_of

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
    max_connections_per_user: int = 20
    expiry_check_seconds: float = 60.0  # longest sleep between checks of a token's expiry


BINARY_REFUSED = "binary frames are not supported: send JSON text frames"
EXPIRY_REASON = "access token expired: send {op: auth, token} with a fresh one before it does"


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
    # Checked and added with no await in between: concurrent connects cannot overshoot.
    if ctx.hub.connections_of(principal.user.id) >= ctx.max_connections_per_user:
        limit = ctx.max_connections_per_user
        await ws.close(code=CLOSE_BACKLOG, reason=f"too many connections: at most {limit} per user")
        return
    conn = Connection(
        ws,
        principal.user.id,
        principal.session_id,
        max_queue=ctx.hub.max_queue,
        send_timeout=ctx.hub.send_timeout,
        sink=sink_of(ws.scope),
        max_buffer_bytes=ctx.hub.max_buffer_bytes,
    )
    conn.expires_at = principal.expires_at
    conn.is_admin = principal.user.role == Role.ADMIN
    ctx.hub.add(conn)
    conn.start()
    conn.offer(
        _reply("ready", user_id=principal.user.id, expires_at=_iso(conn.expires_at)), private=True
    )
    expiry = asyncio.create_task(_close_when_expired(ctx, conn), name="ws-expiry")
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
            if '"auth"' in raw:
                await _reauthenticate(ctx, conn, raw)
                continue
            _handle(ctx, conn, raw)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        expiry.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await expiry
        ctx.hub.remove(conn)
        await conn.stop()  # a close asked for above goes out first


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def _close_when_expired(ctx: WsContext, conn: Connection) -> None:
    """Close the connection once its access token has expired (a re-authentication moves
    the expiry on; it is looked at again on waking)."""
    while conn.expires_at is not None:
        left = (conn.expires_at - ctx.clock.now()).total_seconds()
        if left <= 0:
            conn.close_soon(CLOSE_TOKEN_EXPIRED, EXPIRY_REASON)
            return
        await asyncio.sleep(min(left, ctx.expiry_check_seconds))


async def _reauthenticate(ctx: WsContext, conn: Connection, raw: str) -> None:
    """``{"op": "auth", "token": ...}`` on an open connection: a fresh token of the same user
    extends it; anything else is answered with an error and changes nothing."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError:
        msg = None
    if not isinstance(msg, dict) or msg.get("op") != "auth":
        _handle(ctx, conn, raw)  # '"auth"' appeared elsewhere in another request
        return
    token = msg.get("token")
    if not isinstance(token, str) or not token:
        conn.offer(_reply("error", message="auth needs a token"), private=True)
        return
    try:
        async with ctx.sessions() as session:
            principal = await authenticate(session, ctx.jwt, token, ctx.clock.now())
    except DomainError as exc:
        message = f"re-authentication failed: {exc.message}"
        conn.offer(_reply("error", message=message), private=True)
        return
    if principal.user.id != conn.user_id:
        conn.close_soon(CLOSE_POLICY, "a connection cannot change its user")
        return
    conn.session_id = principal.session_id
    conn.expires_at = principal.expires_at
    if principal.user.role == Role.ADMIN:
        conn.is_admin = True
    else:
        lost = ctx.hub.revoke_admin(conn)
        if lost:
            conn.offer(admin_lost_frame(lost), private=True)
    conn.offer(_reply("ack", request="auth", expires_at=_iso(conn.expires_at)), private=True)


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
        refused = sorted({c.name for c in parsed if c.name in ADMIN_ONLY and not conn.is_admin})
        if refused:  # refused alone: the rest of the request (a client's batch) still holds
            message = f"{', '.join(refused)}: admin role required"
            conn.offer(_reply("error", message=message, channels=refused), private=True)
            parsed = [c for c in parsed if c.name not in refused]
            if not parsed:
                return
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
    if op == "subscribe" and any(channel.name == STATUS for channel in parsed):
        # The current state at once; the bus carries only the changes.
        for frame in snapshot_frames(ctx.clock.now()):
            conn.offer(frame, private=False)

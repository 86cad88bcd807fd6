"""One client connection and its bounded outgoing backlog.

A slow or stalled client never slows anyone else: market data beyond the
bound is dropped (counted); private data that cannot be queued closes the
connection (code 1013), since it must not be lost silently; the client
reconnects and re-reads state over REST.

With a ``FrameSink`` (the service's own uvicorn protocol, ``transport.py``)
frames are appended to the socket's write buffer without waiting: the frames
offered during one turn of the event loop leave in one write, the bound is the
bytes the socket has not taken yet (``max_buffer_bytes``; the newest market data
is dropped beyond it), and a client that stays over it for ``send_timeout`` is
disconnected. Without one, a queue of ``max_queue`` frames is drained by the
connection's sender task through ASGI sends (the oldest market data is dropped),
each send with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from datetime import datetime

from starlette.websockets import WebSocket, WebSocketState

from shared.metrics import WS_DROPPED
from websocket_service.transport import Frame, FrameSink, text_frame

CLOSE_BACKLOG = 1013
CLOSE_POLICY = 1008
CLOSE_UNSUPPORTED = 1003  # a binary frame: the protocol is JSON text
CLOSE_SESSION_ENDED = 4001
CLOSE_TOKEN_EXPIRED = 4002  # the access token expired and no fresh one was sent


class Connection:
    def __init__(
        self,
        ws: WebSocket,
        user_id: int,
        session_id: str,
        *,
        max_queue: int = 1000,
        send_timeout: float = 5.0,
        sink: FrameSink | None = None,
        max_buffer_bytes: int = 1 << 20,
    ) -> None:
        self.ws = ws
        self.user_id = user_id
        self.session_id = session_id
        self.expires_at: datetime | None = None  # when its access token expires
        self.is_admin = False  # the user's role when the connection last authenticated
        self.channels: set[str] = set()  # client channel names
        self.max_queue = max_queue
        self.send_timeout = send_timeout
        self.dropped = 0
        self.sent = 0
        self._queue: deque[tuple[str, bool]] = deque()
        self._wake = asyncio.Event()
        self._closing: tuple[int, str] | None = None
        self._sender: asyncio.Task[None] | None = None
        self.sink = sink
        self.max_buffer_bytes = max_buffer_bytes
        self._pending: list[bytes] = []  # frames for the sink's next write
        self._full_since: float | None = None  # since when the sink has been over its bound

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"ws-send-{self.user_id}")

    def offer(self, text: str, private: bool) -> None:
        """Queue a frame without waiting; apply the overflow policy."""
        if self._closing is not None:
            return
        if self.sink is not None:
            self._stage(text_frame(text.encode()), private)
            return
        if len(self._queue) >= self.max_queue:
            if private:
                self.close_soon(CLOSE_BACKLOG, "client too slow for private updates")
                return
            for i, (_, was_private) in enumerate(self._queue):
                if not was_private:
                    del self._queue[i]
                    break
            else:
                self.dropped += 1
                WS_DROPPED.inc()
                return
            self.dropped += 1
            WS_DROPPED.inc()
        self._queue.append((text, private))
        self._wake.set()

    def offer_frame(self, frame: Frame, private: bool = False) -> None:
        """``offer`` a frame built once for many receivers."""
        if self.sink is None:
            self.offer(frame.text, private)
        elif self._closing is None:
            self._stage(frame.wire, private)

    def _stage(self, wire: bytes, private: bool) -> None:
        pending = self._pending
        if not pending:
            assert self.sink is not None
            if self.sink.buffered() >= self.max_buffer_bytes:
                self._overflow(private)
                return
            self._full_since = None
            asyncio.get_running_loop().call_soon(self._flush)
        elif len(pending) >= self.max_queue:
            self._overflow(private)
            return
        pending.append(wire)

    def _overflow(self, private: bool) -> None:
        if private:
            self.close_soon(CLOSE_BACKLOG, "client too slow for private updates")
            return
        self.dropped += 1
        WS_DROPPED.inc()
        now = time.monotonic()
        if self._full_since is None:
            self._full_since = now
        elif now - self._full_since > self.send_timeout:
            self.close_soon(CLOSE_BACKLOG, "send timed out")

    def _flush(self) -> None:
        pending = self._pending
        if not pending or self.sink is None:
            return
        self._pending = []
        self.sent += len(pending)
        self.sink.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close_soon(self, code: int, reason: str) -> None:
        if self._closing is None:
            self._closing = (code, reason)
            self._queue.clear()
            self._pending.clear()
            self._wake.set()

    async def _send_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue and self._closing is None:
                    text, _ = self._queue.popleft()
                    # asyncio.timeout, unlike wait_for, costs no extra task per frame
                    async with asyncio.timeout(self.send_timeout):
                        await self.ws.send_text(text)
                    self.sent += 1
                if self._closing is not None:
                    await self._close(*self._closing)
                    return
        except (TimeoutError, RuntimeError, OSError):
            await self._close(CLOSE_BACKLOG, "send timed out")
        except Exception:  # a disconnect surfaces as various errors; the reader notices it too
            await self._close(CLOSE_BACKLOG, "send failed")

    async def send_now(self, payload: str) -> None:
        """A direct reply to the client (acks and errors), outside the data queue."""
        self.offer(payload, private=True)

    async def _close(self, code: int, reason: str) -> None:
        sink = self.sink
        # A close frame behind a full backlog would wait on what the client does not read.
        backlogged = sink is not None and sink.buffered() >= self.max_buffer_bytes
        if not backlogged and self.ws.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(code=code, reason=reason), 2)
        if sink is not None and sink.writable:  # no close frame went out: drop the socket
            sink.abort()

    async def stop(self) -> None:
        """End the sender; a close already asked for is sent first (within the send timeout)."""
        if self._sender is not None:
            if self._closing is not None and not self._sender.done():
                await asyncio.wait({self._sender}, timeout=self.send_timeout)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sender

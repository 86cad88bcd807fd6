"""One client connection: a bounded outgoing queue drained by its own sender task.

A slow or stalled client never slows anyone else: market data beyond the
queue bound is dropped (oldest first, counted); private data that cannot be
queued closes the connection (code 1013), since it must not be lost silently;
the client reconnects and re-reads state over REST. Every send has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from datetime import datetime

from starlette.websockets import WebSocket, WebSocketState

from shared.metrics import WS_DROPPED

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
    ) -> None:
        self.ws = ws
        self.user_id = user_id
        self.session_id = session_id
        self.expires_at: datetime | None = None  # when its access token expires
        self.channels: set[str] = set()  # client channel names
        self.max_queue = max_queue
        self.send_timeout = send_timeout
        self.dropped = 0
        self.sent = 0
        self._queue: deque[tuple[str, bool]] = deque()
        self._wake = asyncio.Event()
        self._closing: tuple[int, str] | None = None
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"ws-send-{self.user_id}")

    def offer(self, text: str, private: bool) -> None:
        """Queue a frame without waiting; apply the overflow policy."""
        if self._closing is not None:
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

    def close_soon(self, code: int, reason: str) -> None:
        if self._closing is None:
            self._closing = (code, reason)
            self._queue.clear()
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
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(code=code, reason=reason), 2)

    async def stop(self) -> None:
        """End the sender; a close already asked for is sent first (within the send timeout)."""
        if self._sender is not None:
            if self._closing is not None and not self._sender.done():
                await asyncio.wait({self._sender}, timeout=self.send_timeout)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sender

"""The per-connection queue policy, with client sockets that read instantly or never."""

from __future__ import annotations

import asyncio

from websocket_service.connection import CLOSE_BACKLOG, Connection


class RecordingSocket:
    """A client that reads everything at once."""

    application_state = None

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.closed_with: int | None = None

    async def send_text(self, text: str) -> None:
        self.frames.append(text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = code


class StalledSocket(RecordingSocket):
    """A client that never reads: every send waits forever."""

    async def send_text(self, text: str) -> None:
        await asyncio.Event().wait()


async def test_stalled_client_is_bounded_and_closed_while_the_other_gets_everything():
    fast = Connection(RecordingSocket(), 1, "s1", max_queue=100, send_timeout=0.2)
    slow = Connection(StalledSocket(), 2, "s2", max_queue=100, send_timeout=0.2)
    fast.start()
    slow.start()
    for i in range(5000):
        for conn in (fast, slow):
            conn.offer(f"tick {i}", private=False)
        if i % 50 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0.5)
    assert fast.ws.frames == [f"tick {i}" for i in range(5000)]
    assert slow.dropped > 0 and len(slow._queue) <= 100
    assert slow.ws.closed_with == CLOSE_BACKLOG
    await fast.stop()
    await slow.stop()


async def test_private_backlog_closes_instead_of_dropping():
    conn = Connection(StalledSocket(), 1, "s1", max_queue=10, send_timeout=5)
    conn.start()
    for i in range(20):
        conn.offer(f"order {i}", private=True)
    await asyncio.sleep(0.05)
    assert conn.ws.closed_with == CLOSE_BACKLOG
    await conn.stop()


async def test_market_data_overflow_drops_oldest_market_frame_not_private_ones():
    conn = Connection(StalledSocket(), 1, "s1", max_queue=3, send_timeout=5)
    conn.offer("order", private=True)
    conn.offer("t1", private=False)
    conn.offer("t2", private=False)
    conn.offer("t3", private=False)
    assert [t for t, _ in conn._queue] == ["order", "t2", "t3"]
    assert conn.dropped == 1

"""Frames encoded once and written straight to each socket: framing, batching, backlog bounds."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import websockets
from websockets.frames import Frame as WireFrame
from websockets.frames import Opcode
from websockets.streams import StreamReader

from shared.bus import InProcessEventBus
from shared.contracts import TickMsg, tick_channel
from shared.metrics import WS_DROPPED
from websocket_service.connection import CLOSE_BACKLOG, Connection
from websocket_service.hub import YIELD_EVERY, Hub
from websocket_service.transport import Frame, text_frame

from .test_ws import NOW, _connect, _recv


class Sink:
    """A socket's write side: records what is written; ``backlog`` stands for the bytes the
    client has not read yet."""

    def __init__(self, backlog: int = 0) -> None:
        self.writes: list[bytes] = []
        self.backlog = backlog
        self.aborted = False

    @property
    def writable(self) -> bool:
        return not self.aborted

    def buffered(self) -> int:
        return self.backlog

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def abort(self) -> None:
        self.aborted = True


class Socket:
    """The ASGI side of the connection, for the close handshake."""

    application_state = None

    def __init__(self) -> None:
        self.closed_with: int | None = None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = code


def _parse(data: bytes) -> list[WireFrame]:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while True:
        parser = WireFrame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
        except EOFError:
            return frames


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536, 200_000])
def test_a_text_frame_parses_back_to_its_payload(size):
    payload = ("é" + "a" * (size - 2)).encode() if size >= 2 else b"a" * size
    assert len(payload) == size

    [frame] = _parse(text_frame(payload))

    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)
    assert not (frame.rsv1 or frame.rsv2 or frame.rsv3)


def test_a_frame_is_encoded_once_for_all_its_receivers():
    frame = Frame('{"channel":"ticks:X","data":{}}')

    assert frame.wire is frame.wire
    assert _parse(frame.wire)[0].data == frame.text.encode()


async def test_frames_offered_in_one_turn_leave_in_one_write_in_order():
    sink = Sink()
    conn = Connection(Socket(), 1, "s", sink=sink)  # type: ignore[arg-type]

    conn.offer_frame(Frame("t1"))
    conn.offer("ack", private=True)
    conn.offer_frame(Frame("t2"))
    assert sink.writes == []  # nothing leaves before the turn ends
    await asyncio.sleep(0)

    [write] = sink.writes
    assert [f.data for f in _parse(write)] == [b"t1", b"ack", b"t2"]
    assert conn.sent == 3


async def test_market_data_over_the_backlog_bound_is_dropped_and_counted():
    sink = Sink(backlog=2_000)
    conn = Connection(Socket(), 1, "s", sink=sink, max_buffer_bytes=1_000)  # type: ignore[arg-type]
    dropped_before = WS_DROPPED._value.get()

    for i in range(10):
        conn.offer_frame(Frame(f"t{i}"))
    await asyncio.sleep(0)

    assert sink.writes == []
    assert conn.dropped == 10
    assert WS_DROPPED._value.get() - dropped_before == 10


async def test_one_turn_holds_at_most_max_queue_frames():
    sink = Sink()
    conn = Connection(Socket(), 1, "s", sink=sink, max_queue=3)  # type: ignore[arg-type]

    for i in range(5):
        conn.offer_frame(Frame(f"t{i}"))
    await asyncio.sleep(0)

    assert [f.data for f in _parse(sink.writes[0])] == [b"t0", b"t1", b"t2"]
    assert conn.dropped == 2


async def test_a_client_over_the_bound_longer_than_the_send_timeout_is_disconnected():
    sink = Sink(backlog=10_000)
    ws = Socket()
    conn = Connection(ws, 1, "s", sink=sink, max_buffer_bytes=1_000, send_timeout=0.1)  # type: ignore[arg-type]
    conn.start()

    conn.offer_frame(Frame("t0"))  # the backlog is noticed
    await asyncio.sleep(0.15)
    conn.offer_frame(Frame("t1"))  # still over the bound after the send timeout
    await asyncio.sleep(0.05)

    assert sink.aborted  # no close frame could get through: the socket is dropped
    assert ws.closed_with is None
    await conn.stop()


async def test_a_client_that_catches_up_in_time_stays():
    sink = Sink(backlog=10_000)
    conn = Connection(Socket(), 1, "s", sink=sink, max_buffer_bytes=1_000, send_timeout=0.1)  # type: ignore[arg-type]
    conn.start()

    conn.offer_frame(Frame("t0"))
    sink.backlog = 0  # it read what was waiting
    await asyncio.sleep(0.15)
    conn.offer_frame(Frame("t1"))
    await asyncio.sleep(0)

    assert not sink.aborted
    assert [f.data for f in _parse(b"".join(sink.writes))] == [b"t1"]
    await conn.stop()


async def test_private_data_over_the_bound_closes_the_connection():
    sink = Sink(backlog=2_000)
    conn = Connection(Socket(), 1, "s", sink=sink, max_buffer_bytes=1_000)  # type: ignore[arg-type]
    conn.start()

    conn.offer('{"channel":"orders"}', private=True)
    await asyncio.sleep(0.05)

    assert sink.writes == [] and sink.aborted
    await conn.stop()


async def test_a_close_goes_out_as_a_close_frame_when_the_backlog_is_small():
    sink = Sink()
    ws = Socket()
    conn = Connection(ws, 1, "s", sink=sink)  # type: ignore[arg-type]
    conn.start()

    conn.close_soon(CLOSE_BACKLOG, "bye")
    await asyncio.sleep(0.05)

    assert ws.closed_with == CLOSE_BACKLOG
    await conn.stop()


# Live: the service's own uvicorn protocol (tests/websocket_service/conftest.py), real sockets.


async def _stalled(live, trader, channels):
    """A client that stops reading once subscribed, with small socket buffers on both ends
    so that the server's backlog to it builds within a few hundred frames."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = live.ws_url.split("//")[1].split("/")[0].split(":")
    sock.connect((host, int(port)))
    sock.setblocking(False)
    ws = await websockets.connect(live.ws_url, sock=sock, max_queue=1)
    await ws.send(json.dumps({"op": "auth", "token": trader.access}))
    assert json.loads(await ws.recv())["op"] == "ready"
    await ws.send(json.dumps({"op": "subscribe", "channels": channels}))
    assert json.loads(await ws.recv())["op"] == "ack"
    ws.transport.pause_reading()
    [conn] = live.hub._by_user[trader.id]
    server_socket = conn.sink._protocol.transport.get_extra_info("socket")
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    return ws, conn


async def test_a_stalled_client_is_disconnected_while_the_others_get_every_frame(live):
    live.hub.max_buffer_bytes = 32 * 1024
    fast = await _connect(live, await live.trader(), ["ticks:INFY"])
    slow, slow_conn = await _stalled(live, await live.trader(), ["ticks:INFY"])
    assert live.hub.connections() == 2
    got: list[float] = []

    async def read(n: int) -> None:
        while len(got) < n:
            got.append((await _recv(fast))["data"]["price"])

    sent = 0
    # Until the stalled client's backlog is over its bound for longer than the send
    # timeout (1 s here), in bursts the reading client keeps up with.
    for _ in range(400):
        burst = [
            (tick_channel("INFY"), TickMsg(symbol="INFY", ts=NOW, price=sent + k, qty=1))
            for k in range(40)
        ]
        sent += len(burst)
        await live.bus.publish_many(burst)
        await read(sent)
        if live.hub.connections() == 1:
            break
        await asyncio.sleep(0.005)

    assert live.hub.connections() == 1, "the stalled client is still connected"
    assert slow_conn.dropped > 0
    assert got == [float(k) for k in range(sent)]
    await fast.close()
    slow.transport.abort()


async def test_a_backlog_on_the_bus_is_handed_out_in_slices_between_turns_of_the_loop():
    bus = InProcessEventBus()
    hub = Hub(bus)
    turns = 0
    seen: list[int] = []

    class Receiver:
        user_id = 1
        session_id = "s"
        channels = {"ticks:INFY"}

        def offer_frame(self, frame: Frame, private: bool = False) -> None:
            seen.append(turns)

        async def stop(self) -> None:
            return None

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    conn = Receiver()
    hub.add(conn)  # type: ignore[arg-type]
    hub.subscribe(conn, "ticks:INFY")  # type: ignore[arg-type]
    await hub.start()
    counter = asyncio.create_task(count_turns())
    try:
        tick = TickMsg(symbol="INFY", ts=NOW, price=1.0, qty=1)
        await bus.publish_many([(tick_channel("INFY"), tick)] * (4 * YIELD_EVERY))
        while len(seen) < 4 * YIELD_EVERY:
            await asyncio.sleep(0.01)
    finally:
        counter.cancel()
        await hub.stop()

    slices = [seen.count(t) for t in sorted(set(seen))]
    assert max(slices) <= YIELD_EVERY and len(slices) >= 4

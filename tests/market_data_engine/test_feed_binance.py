"""The Binance trade-stream adapter against a local server that replays recorded frames.

The server speaks Binance's protocol (combined-stream URL or SUBSCRIBE on ``/ws``) and can
drop the connection or fall silent mid-stream, so reconnects, staleness detection and
resubscription are exercised over a real WebSocket on loopback.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidURI

from market_data_engine.feeds.binance import BinanceTradeFeed, backoff_delay
from market_data_engine.ticks import TickBatch

FRAMES = (Path(__file__).parent / "fixtures" / "binance_trades.jsonl").read_text().splitlines()
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


class FakeBinance:
    """Serves the recorded frames once across all connections, resuming where it stopped."""

    def __init__(
        self,
        frames: list[str] = FRAMES,
        *,
        disconnect_after: int | None = None,
        stall_after: int | None = None,
        replay_on_reconnect: bool = False,
    ) -> None:
        self.frames = frames
        self.disconnect_after = disconnect_after
        self.stall_after = stall_after
        self.replay_on_reconnect = replay_on_reconnect
        self.sent = 0
        self.paths: list[str] = []
        self.subscriptions: list[dict] = []

    async def handler(self, ws: ServerConnection) -> None:
        first = not self.paths
        path = ws.request.path
        self.paths.append(path)
        raw = urlparse(path).path == "/ws"
        if raw:
            request = json.loads(await ws.recv())
            self.subscriptions.append(request)
            await ws.send(json.dumps({"result": None, "id": request["id"]}))
            streams = set(request["params"])
        else:
            streams = set(parse_qs(urlparse(path).query)["streams"][0].split("/"))
        if self.replay_on_reconnect:
            self.sent = 0
        while self.sent < len(self.frames):
            if first and self.sent == self.disconnect_after:
                await ws.close(code=1001, reason="going away")
                return
            if first and self.sent == self.stall_after:
                await ws.wait_closed()  # silent but open, until the client gives up on it
                return
            await self.send(ws, self.frames[self.sent], streams, raw)
            self.sent += 1
        await ws.wait_closed()

    @staticmethod
    async def send(ws: ServerConnection, text: str, streams: set[str], raw: bool) -> None:
        try:
            frame = json.loads(text)
        except json.JSONDecodeError:
            await ws.send(text)  # a corrupt frame goes out as it is
            return
        if frame["stream"] in streams:
            await ws.send(json.dumps(frame["data"]) if raw else text)


def expected_ticks(frames: list[str] = FRAMES) -> TickBatch:
    data = [json.loads(f)["data"] for f in frames]
    return TickBatch(
        np.array([d["s"] for d in data], dtype=object),
        np.array([d["T"] * 1_000_000 for d in data], dtype=np.int64),
        np.array([float(d["p"]) for d in data]),
        np.array([float(d["q"]) for d in data]),
    )


def make_feed(port: int, **kw) -> BinanceTradeFeed:
    kw.setdefault("stale_after_s", 0.3)
    kw.setdefault("backoff_initial_s", 0.02)
    kw.setdefault("backoff_max_s", 0.1)
    return BinanceTradeFeed(
        SYMBOLS,
        base_url=f"ws://127.0.0.1:{port}",
        connect_options={"proxy": None},
        seed=1,
        **kw,
    )


async def take(feed: BinanceTradeFeed, n: int, timeout: float = 5.0) -> list[TickBatch]:
    batches: list[TickBatch] = []
    async with asyncio.timeout(timeout), feed:
        async for batch in feed:
            batches.append(batch)
            if sum(len(b) for b in batches) >= n:
                break
    return batches


async def run_against(server: FakeBinance, n: int = len(FRAMES), **kw):
    async with serve(server.handler, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        feed = make_feed(port, **kw)
        batches = await take(feed, n)
    return feed, TickBatch.concat(batches), batches


def assert_same_ticks(got: TickBatch, want: TickBatch) -> None:
    assert got.symbol.tolist() == want.symbol.tolist()
    assert np.array_equal(got.ts_ns, want.ts_ns)
    assert np.array_equal(got.price, want.price)
    assert np.array_equal(got.qty, want.qty)


async def test_trade_frames_are_decoded_into_ticks_with_trade_time_price_and_qty():
    _, ticks, _ = await run_against(FakeBinance())

    assert_same_ticks(ticks, expected_ticks())


async def test_frames_arriving_together_share_a_batch():
    _, _, batches = await run_against(FakeBinance(), batch_window_s=0.05)

    assert len(batches) < len(FRAMES)


async def test_combined_stream_url_names_every_symbols_trade_stream():
    server = FakeBinance()

    await run_against(server)

    assert parse_qs(urlparse(server.paths[0]).query)["streams"] == ["btcusdt@trade/ethusdt@trade"]


async def test_server_disconnect_mid_stream_reconnects_and_continues():
    server = FakeBinance(disconnect_after=15)

    feed, ticks, _ = await run_against(server)

    assert_same_ticks(ticks, expected_ticks())
    assert len(server.paths) == 2
    assert feed.stats.reconnects == 1


async def test_reconnect_resubscribes_with_the_same_streams_on_the_combined_url():
    server = FakeBinance(disconnect_after=15)

    await run_against(server)

    assert server.paths[0] == server.paths[1]


async def test_subscribe_mode_sends_subscribe_again_after_a_reconnect():
    server = FakeBinance(disconnect_after=15)

    _, ticks, _ = await run_against(server, subscribe=True)

    assert [s["params"] for s in server.subscriptions] == [["btcusdt@trade", "ethusdt@trade"]] * 2
    assert [s["method"] for s in server.subscriptions] == ["SUBSCRIBE"] * 2
    assert server.subscriptions[0]["id"] != server.subscriptions[1]["id"]
    assert_same_ticks(ticks, expected_ticks())


async def test_a_silent_connection_is_declared_stale_and_replaced():
    server = FakeBinance(stall_after=10)
    alerts: list[str] = []

    feed, ticks, _ = await run_against(server, on_stale=lambda f: alerts.append(f.name))

    assert alerts == ["binance"]
    assert feed.stats.stale_events == 1
    assert len(server.paths) == 2
    assert_same_ticks(ticks, expected_ticks())


async def test_trades_seen_before_a_reconnect_are_not_delivered_twice():
    server = FakeBinance(disconnect_after=15, replay_on_reconnect=True)

    feed, ticks, _ = await run_against(server)

    assert_same_ticks(ticks, expected_ticks())
    assert feed.stats.duplicates == 15


async def test_malformed_and_non_trade_frames_are_counted_and_skipped():
    frames = [*FRAMES[:5], "{not json", *FRAMES[5:]]
    ack = json.dumps({"stream": "btcusdt@trade", "data": {"e": "kline"}})
    frames.insert(8, ack)
    server = FakeBinance(frames)

    feed, ticks, _ = await run_against(server)

    assert_same_ticks(ticks, expected_ticks())
    assert feed.stats.decode_errors == 1


async def test_feed_keeps_retrying_until_the_server_comes_up():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    feed = make_feed(port)
    consumer = asyncio.create_task(take(feed, len(FRAMES)))
    await asyncio.sleep(0.3)  # several refused connection attempts

    async with serve(FakeBinance().handler, "127.0.0.1", port):
        batches = await asyncio.wait_for(consumer, timeout=5)

    assert feed.stats.reconnects >= 2
    assert_same_ticks(TickBatch.concat(batches), expected_ticks())


async def test_stop_ends_iteration_while_waiting_for_trades():
    server = FakeBinance(stall_after=0)
    async with serve(server.handler, "127.0.0.1", 0) as srv:
        feed = make_feed(srv.sockets[0].getsockname()[1], stale_after_s=30)
        consumer = asyncio.create_task(take(feed, 1))
        await asyncio.sleep(0.2)

        await feed.stop()
        batches = await asyncio.wait_for(consumer, timeout=2)

    assert batches == []


def test_backoff_doubles_from_the_initial_delay_within_jitter():
    rng = random.Random(0)

    delays = [backoff_delay(a, initial_s=1.0, max_s=60.0, rng=rng) for a in range(4)]

    for attempt, delay in enumerate(delays):
        step = 2.0**attempt
        assert step / 2 <= delay <= step


def test_backoff_is_capped():
    rng = random.Random(0)

    delays = [backoff_delay(a, initial_s=0.5, max_s=30.0, rng=rng) for a in range(10, 200, 7)]

    assert max(delays) <= 30.0
    assert min(delays) >= 15.0


def test_backoff_jitter_spreads_clients_apart():
    delays = {backoff_delay(3, initial_s=1.0, max_s=30.0, rng=random.Random(i)) for i in range(20)}

    assert len(delays) == 20


def test_a_feed_needs_symbols():
    with pytest.raises(ValueError):
        BinanceTradeFeed([])


async def test_an_invalid_base_url_is_raised_instead_of_retried():
    feed = BinanceTradeFeed(SYMBOLS, base_url="http//not-a-websocket-url")

    with pytest.raises(InvalidURI):
        await asyncio.wait_for(take(feed, 1), timeout=2)

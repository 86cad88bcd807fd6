"""What the end-to-end test does as traders: REST orders that must be accepted, WebSocket
feeds that follow their owner's events, and a keep-alive HTTP connection watched for drops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.api_gateway.factories import Trader

R = "/api/v1"
CHANNELS = ["orders", "fills", "positions", "signals", "account"]


@dataclass
class OrderFlow:
    """One trader placing market orders one after another, as a careful client would: each
    order is sent again with the same ``client_order_id`` until it is accepted (a 503, a
    timeout or a dropped connection leaves its fate unknown; the key makes the retry safe)."""

    http: httpx.AsyncClient
    trader: Trader
    account: int
    symbol: str
    quantity: str
    pace_s: float = 0.4
    accepted: dict[str, float] = field(default_factory=dict)
    """client_order_id -> when it was accepted (monotonic)."""
    answers: Counter[int] = field(default_factory=Counter)
    """Every answer's status (0: no answer: timeout or connection error)."""
    refused: list[str] = field(default_factory=list)
    """Answers that no retry can cure (a 4xx other than 429): each one is a failure."""

    async def run(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            key = f"e2e-{self.trader.id}-{n}"
            side = "BUY" if n % 2 == 0 else "SELL"
            await self._place(key, side)
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.pace_s)

    async def _place(self, key: str, side: str) -> None:
        body = {
            "broker_account_id": self.account,
            "client_order_id": key,
            "symbol": self.symbol,
            "side": side,
            "quantity": self.quantity,
            "order_type": "MARKET",
        }
        while True:
            try:
                r = await self.http.post(
                    f"{R}/orders", json=body, headers=self.trader.headers, timeout=20
                )
            except httpx.HTTPError:
                self.answers[0] += 1
                await asyncio.sleep(0.5)
                continue
            self.answers[r.status_code] += 1
            if r.status_code in (200, 201):
                self.accepted[key] = time.monotonic()
                return
            if r.status_code == 429:
                await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                continue
            if r.status_code >= 500:
                await asyncio.sleep(0.5)
                continue
            self.refused.append(f"{r.status_code} {r.text[:300]}")
            return


@dataclass
class EventFeed:
    """One trader's WebSocket on the websocket service, subscribed to every private channel.

    A connection the server closes is opened again (and counted), as the dashboard does."""

    url: str
    trader: Trader
    frames: list[dict[str, Any]] = field(default_factory=list)
    reconnects: int = 0
    closes: list[str] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        import websockets

        first = True
        while True:
            try:
                async with websockets.connect(self.url, max_size=2**22) as ws:
                    await ws.send(json.dumps({"op": "auth", "token": self.trader.access}))
                    ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert ready["op"] == "ready", ready
                    await ws.send(json.dumps({"op": "subscribe", "channels": CHANNELS}))
                    if not first:
                        self.reconnects += 1
                    first = False
                    self.connected.set()
                    async for raw in ws:
                        self.frames.append(json.loads(raw))
                    self.closes.append(f"closed {ws.close_code} {ws.close_reason}")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.closes.append(repr(exc))
            await asyncio.sleep(0.5)

    def events(self, channel: str) -> list[dict[str, Any]]:
        return [f["data"] for f in self.frames if f.get("channel") == channel and "data" in f]

    def order_states(self) -> dict[int, dict[str, Any]]:
        """Each order's newest state seen (highest version)."""
        newest: dict[int, dict[str, Any]] = {}
        for event in self.events("orders"):
            known = newest.get(event["order_id"])
            if known is None or event["version"] > known["version"]:
                newest[event["order_id"]] = event
        return newest

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


class KeepAliveConnection:
    """One HTTP/1.1 connection used for request after request, so a server that drops it
    after an answer is seen (httpx would quietly open a new one)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """GET on this connection; raises ConnectionError if the server closed it."""
        assert self._reader is not None and self._writer is not None
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise ConnectionError("the server closed the connection") from exc
        status = int(head[9:12])
        fields: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                fields[name.strip().lower()] = value.strip()
        body = await self._reader.readexactly(int(fields.get("content-length", "0")))
        return status, fields, body

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()

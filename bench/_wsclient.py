"""WebSocket clients for ``bench/ws_fanout.py``, run as their own process.

A client here is a bare asyncio protocol that speaks just enough RFC 6455 (the
upgrade, a masked text frame out, unmasked frames in, pongs): it counts frames
for a fraction of what a full client library costs, so the server and not the
clients is what gets measured. A few "probe" connections also read each tick's
timestamp to measure publish-to-receipt latency.

Driven by JSON lines on stdin, one JSON line answered on stdout per command:
``connect`` (tokens, channel, probes, stall, auth), ``reset``, ``report``, ``close``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import resource
import socket
import sys
import time
from datetime import datetime
from typing import Any, cast

import orjson

DATA_PREFIX = b'{"channel"'
ACK = b'"op":"ack"'


def _frame(payload: bytes, opcode: int = 1) -> bytes:
    # Client frames are masked (RFC 6455 5.3); a zero key leaves the payload as it is.
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    else:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return head + b"\0\0\0\0" + payload


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.received = 0
        self.first = 0.0
        self.last = 0.0
        self.latencies: list[float] = []


class Client(asyncio.Protocol):
    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        channels: list[str],
        stats: Stats,
        *,
        probe: bool,
        stall: bool,
        wait_ack: bool,
    ) -> None:
        self.request = (
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
        self.subscribe = orjson.dumps({"op": "subscribe", "channels": channels})
        self.stats = stats
        self.probe = probe
        self.stall = stall
        self.wait_ack = wait_ack
        self.buf = bytearray()
        self.upgraded = False
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.closed = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_result(False)

    def _subscribed(self) -> None:
        if not self.ready.done():
            self.ready.set_result(True)
            if self.stall and self.transport is not None:
                self.transport.pause_reading()  # a client that stops reading

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        at = 0
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in buf[: buf.find(b"\r\n")]:
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
            at = end + 4
            assert self.transport is not None
            self.transport.write(_frame(self.subscribe))
            if not self.wait_ack:
                self._subscribed()
        size = len(buf)
        stats = self.stats
        while size - at >= 2:
            opcode = buf[at] & 0x0F
            n = buf[at + 1] & 0x7F
            off = 2
            if n == 126:
                if size - at < 4:
                    break
                n = int.from_bytes(buf[at + 2 : at + 4], "big")
                off = 4
            elif n == 127:
                if size - at < 10:
                    break
                n = int.from_bytes(buf[at + 2 : at + 10], "big")
                off = 10
            if size - at < off + n:
                break
            start = at + off
            at = start + n
            if opcode == 1:
                if buf.startswith(DATA_PREFIX, start):
                    now = time.time()
                    stats.received += 1
                    if not stats.first:
                        stats.first = now
                    stats.last = now
                    if self.probe:
                        data_ts = orjson.loads(bytes(buf[start:at]))["data"]["ts"]
                        stats.latencies.append(now - datetime.fromisoformat(data_ts).timestamp())
                elif buf.find(ACK, start, at) >= 0:
                    self._subscribed()
            elif opcode == 9 and self.transport is not None:  # ping -> pong
                self.transport.write(_frame(bytes(buf[start:at]), opcode=10))
            elif opcode == 8 and self.transport is not None:
                self.transport.close()
        del buf[:at]


class Pool:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.stats = Stats()
        self.clients: list[Client] = []

    async def _open(
        self, token: str, channels: list[str], probe: bool, stall: bool, wait_ack: bool
    ) -> Client | None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if stall:  # a small window: the server's sends to it block early
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            await loop.sock_connect(sock, (self.host, self.port))
            _, client = await loop.create_connection(
                lambda: Client(
                    self.host,
                    self.port,
                    token,
                    channels,
                    self.stats,
                    probe=probe,
                    stall=stall,
                    wait_ack=wait_ack,
                ),
                sock=sock,
            )
            ok = await asyncio.wait_for(client.ready, 60)
        except (OSError, TimeoutError):
            sock.close()
            return None
        return client if ok else None

    async def connect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        gate = asyncio.Semaphore(cmd.get("concurrency", 100))
        probes = int(cmd.get("probes", 0))
        channels = cmd.get("channels") or [cmd["channel"]]

        async def one(i: int, token: str) -> Client | None:
            async with gate:
                return await self._open(
                    token,
                    channels,
                    i < probes,
                    bool(cmd.get("stall")),
                    bool(cmd.get("wait_ack", True)),
                )

        made = await asyncio.gather(*(one(i, t) for i, t in enumerate(cmd["tokens"])))
        ok = [c for c in made if c is not None]
        self.clients.extend(ok)
        return {"connected": len(ok), "failed": len(made) - len(ok)}

    def report(self) -> dict[str, Any]:
        s = self.stats
        return {
            "received": s.received,
            "first": s.first,
            "last": s.last,
            "latencies": s.latencies,
            "open": sum(1 for c in self.clients if not c.closed),
            "closed": sum(1 for c in self.clients if c.closed),
            "cpu": time.process_time(),
        }

    async def close(self) -> dict[str, Any]:
        for c in self.clients:
            if c.transport is not None:
                c.transport.close()
        await asyncio.sleep(0.2)
        n = len(self.clients)
        self.clients.clear()
        return {"closed": n}


async def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pool = Pool(sys.argv[1], int(sys.argv[2]))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        cmd = orjson.loads(line)
        op = cmd["cmd"]
        if op == "connect":
            out = await pool.connect(cmd)
        elif op == "reset":
            pool.stats.reset()
            out = {"ok": True}
        elif op == "report":
            out = pool.report()
        elif op == "close":
            out = await pool.close()
        else:
            out = {"error": f"unknown command {op}"}
        sys.stdout.buffer.write(orjson.dumps(out) + b"\n")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())

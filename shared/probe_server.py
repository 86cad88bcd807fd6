"""A small HTTP listener for processes that serve no HTTP of their own (market data, the
order processor, strategy workers): ``/health``, ``/ready`` and ``/metrics``.

Plain asyncio, HTTP/1.1 GET only, one request per connection: enough for Docker and
Kubernetes probes and a Prometheus scraper, and nothing a client could abuse (requests
are capped in size and time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from shared import metrics
from shared.bus import EventBus, NoGroup
from shared.readiness import DEFAULT_TIMEOUT_S, Check, check_all

log = logging.getLogger(__name__)

Sampler = Callable[[], Awaitable[None]]
"""Brings gauges up to date just before ``/metrics`` answers (stream depths, buffers)."""

_MAX_REQUEST = 8 * 1024
_READ_TIMEOUT_S = 5.0


class ProbeServer:
    """Serves ``/health`` (the process is alive), ``/ready`` (its dependencies answer) and
    ``/metrics`` (Prometheus) on ``host:port``; port 0 picks a free one (``self.port``)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        service: str,
        checks: Mapping[str, Check],
        samplers: tuple[Sampler, ...] = (),
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.host = host
        self.port = port
        self.service = service
        self.checks = dict(checks)
        self.samplers = samplers
        self.timeout_s = timeout_s
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s health and metrics on http://%s:%d", self.service, self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of ``path``."""
        if path == "/health":
            return 200, "application/json", _json({"status": "ok", "service": self.service})
        if path == "/ready":
            found = await check_all(self.checks, self.timeout_s)
            return (200 if found.ready else 503), "application/json", _json(found.body())
        if path == "/metrics":
            for sample in self.samplers:
                try:
                    async with asyncio.timeout(self.timeout_s):
                        await sample()
                except Exception as exc:  # a gauge left as it was beats no metrics at all
                    log.warning("a metrics sampler of %s failed: %r", self.service, exc)
            return 200, metrics.CONTENT_TYPE, metrics.render()
        return 404, "application/json", _json({"code": "not_found", "message": "not found"})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > _MAX_REQUEST:
                raise ValueError("request too large")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            path = target.split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, ctype, body = 405, "application/json", _json({"code": "method"})
            else:
                status, ctype, body = await self.answer(path)
            payload = b"" if method == "HEAD" else body
            writer.write(
                (
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\n"
                    f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n"
                ).encode("latin-1")
                + payload
            )
            await writer.drain()
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a client that sends nothing usable is simply disconnected
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


def serve_in_thread(make: Callable[[], ProbeServer]) -> threading.Thread:
    """Run a probe server on its own event loop in a daemon thread (a process whose main
    thread is not an asyncio loop: the Celery worker). ``make`` builds it in that loop."""
    started = threading.Event()

    def main() -> None:
        async def serve() -> None:
            server = make()
            try:
                await server.start()
            finally:
                started.set()
            await asyncio.Event().wait()  # until the process ends

        asyncio.run(serve())

    thread = threading.Thread(target=main, name="probe-server", daemon=True)
    thread.start()
    started.wait(10)
    return thread


def tickstore_sampler(store: object) -> Sampler:
    """The tick store's write buffer: ticks held, fill ratio, ticks shed."""

    async def sample() -> None:
        stats: dict[str, Any] = getattr(store, "stats", dict)()
        held = int(stats.get("buffered", 0) or 0)
        capacity = int(stats.get("max_buffered", 0) or 0)
        metrics.TICKSTORE_BUFFERED.set(held)
        metrics.TICKSTORE_BUFFER_FILL.set(held / capacity if capacity else 0.0)
        metrics.TICKSTORE_SHED.set(int(stats.get("shed", 0) or 0))

    return sample


def stream_sampler(bus: EventBus, streams: Sequence[str], group: str) -> Sampler:
    """Each stream's entries taken and not acknowledged, and its group's consumers."""

    async def sample() -> None:
        for stream in streams:
            try:
                pending = await bus.pending_count(stream, group)
                consumers = await bus.consumers(stream, group)
            except NoGroup:
                continue
            metrics.STREAM_PENDING.labels(stream, group).set(pending)
            metrics.STREAM_CONSUMERS.labels(stream, group).set(len(consumers))

    return sample

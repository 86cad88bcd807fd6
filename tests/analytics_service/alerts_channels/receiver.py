"""A tiny real HTTP/1.1 server on loopback for channel tests: it records what it receives and
answers what a test tells it to (a status and body, a redirect, silence, an endless body)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    peer: str
    server_name: str | None = None  # TLS SNI, when served over TLS

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer
    stream_bytes: int = 0  # send this many extra body bytes, chunked, after ``body``


Handler = Callable[[Received], Reply | Awaitable[Reply]]

REASONS = {200: "OK", 204: "No Content", 302: "Found", 400: "Bad Request", 404: "Not Found"}


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status,
        json.dumps(data).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )


class Receiver:
    """``async with Receiver(handler) as r``: ``r.url(path)``, ``r.requests``."""

    def __init__(self, handler: Handler | None = None, *, tls: ssl.SSLContext | None = None):
        self.handler = handler or (lambda _: Reply())
        self.requests: list[Received] = []
        self.bytes_sent = 0
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._server_names: dict[int, str | None] = {}
        self._hanging: list[asyncio.Event] = []
        if tls is not None:
            tls.sni_callback = self._remember_sni

    def _remember_sni(self, sslobj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self._server_names[id(sslobj)] = name

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for event in self._hanging:
            event.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def url(self, path: str = "/", *, host: str = "127.0.0.1", scheme: str | None = None) -> str:
        scheme = scheme or ("https" if self._tls else "http")
        return f"{scheme}://{host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            sslobj = writer.get_extra_info("ssl_object")
            received = Received(
                method,
                path,
                headers,
                body,
                writer.get_extra_info("peername")[0],
                self._server_names.get(id(sslobj)) if sslobj is not None else None,
            )
            self.requests.append(received)
            reply = self.handler(received)
            if not isinstance(reply, Reply):
                reply = await reply
            if reply.hang:
                event = asyncio.Event()
                self._hanging.append(event)
                await event.wait()
                return
            await self._answer(writer, reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        status_line = f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}\r\n"
        headers = {"Connection": "close", **reply.headers}
        if reply.stream_bytes:
            headers["Transfer-Encoding"] = "chunked"
        elif reply.status != 204:
            headers["Content-Length"] = str(len(reply.body))
        head = status_line + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1"))
        if not reply.stream_bytes:
            writer.write(reply.body if reply.status != 204 else b"")
            await writer.drain()
            return
        chunk = b"x" * 16384
        remaining = reply.stream_bytes
        while remaining > 0:
            piece = chunk[: min(len(chunk), remaining)]
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await writer.drain()
            self.bytes_sent += len(piece)
            remaining -= len(piece)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

"""Frames written straight to a connection's socket, encoded once for all its receivers.

A server's WebSocket frames are never masked (RFC 6455, section 5.1), so one text
message is the same bytes on every connection: the hub builds each message's frame
once and hands those bytes to each receiver, which appends them to what it writes
next. No per-client framing, no per-client task wake-up, no await per frame.

uvicorn's sans-I/O websockets protocol is extended to offer the connection's
``FrameSink`` to the application through the ASGI scope (``SINK_EXTENSION``). The
protocol's own frames (pings, pongs, the close) go through the same transport; every
write is one or more whole frames made synchronously, so frames never interleave.
Frames written here are not compressed: a connection that negotiated
permessage-deflate still accepts uncompressed messages (RFC 7692, section 6), and
compressing once per client is the cost this path exists to avoid.

Under another server (or a test client) the extension is absent and connections
send through ASGI ``websocket.send`` as usual.
"""

from __future__ import annotations

import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

SINK_EXTENSION = "algotrade.websocket.sink"
_FIN_TEXT = 0x81  # FIN bit and opcode 1 (text)


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented text frame carrying ``payload`` (UTF-8)."""
    size = len(payload)
    if size < 126:
        return bytes((_FIN_TEXT, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", _FIN_TEXT, 126, size) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, size) + payload


class Frame:
    """One message's frame for all its receivers: the text for connections that send through
    ASGI, the wire bytes (built on first use, once) for connections with a sink."""

    __slots__ = ("_wire", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = text_frame(self.text.encode())
        return self._wire


class FrameSink:
    """Whole frames onto one accepted connection's transport, without waiting."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    @property
    def writable(self) -> bool:
        """Accepted, not closing, not gone: frames written now reach the client's socket."""
        p = self._protocol
        return (
            p.handshake_complete
            and not p.close_sent
            and not p.disconnected
            and not p.transport.is_closing()
        )

    def buffered(self) -> int:
        """Bytes written and not yet taken by the operating system."""
        return self._protocol.transport.get_write_buffer_size()

    def write(self, data: bytes) -> None:
        if self.writable:
            self._protocol.transport.write(data)

    def abort(self) -> None:
        """Drop the connection at once, unsent bytes and all (a client that stopped reading
        would hold a graceful close open forever)."""
        self._protocol.transport.abort()


class SinkWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol that offers a ``FrameSink`` in the scope."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: dict[str, Any] | None = getattr(self, "scope", None)
        if scope is not None:  # absent when the handshake was refused
            scope.setdefault("extensions", {})[SINK_EXTENSION] = {"sink": FrameSink(self)}


def sink_of(scope: Any) -> FrameSink | None:
    """The connection's sink when the server offers one."""
    extension = (scope.get("extensions") or {}).get(SINK_EXTENSION)
    sink = extension.get("sink") if isinstance(extension, dict) else None
    return sink if isinstance(sink, FrameSink) else None

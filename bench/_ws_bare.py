"""The reference of ``bench/ws_fanout.py``: a bare broadcast loop under the same uvicorn.

A raw ASGI app with no hub, no authentication, no per-connection queue: every
message of the Redis pattern ``md:*`` is wrapped in the same frame the hub sends
and awaited into each open socket in turn. ``GET`` answers the number of open
sockets. Run as ``python -m bench._ws_bare PORT REDIS_HOST REDIS_PORT``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
import uvicorn

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

clients: set[Send] = set()


async def pump(host: str, port: int) -> None:
    client = aioredis.Redis(host=host, port=port)
    pubsub = client.pubsub()
    await pubsub.psubscribe("md:*")
    async for message in pubsub.listen():
        if message["type"] != "pmessage":
            continue
        name = message["channel"][3:].decode()
        frame = '{"channel":' + orjson.dumps(name).decode() + ',"data":'
        frame += message["data"].decode() + "}"
        for send in list(clients):
            try:
                await send({"type": "websocket.send", "text": frame})
            except Exception:
                clients.discard(send)


def make_app(redis_host: str, redis_port: int) -> Callable[..., Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            task: asyncio.Task[None] | None = None
            while True:
                event = await receive()
                if event["type"] == "lifespan.startup":
                    task = asyncio.create_task(pump(redis_host, redis_port))
                    await send({"type": "lifespan.startup.complete"})
                elif event["type"] == "lifespan.shutdown":
                    if task is not None:
                        task.cancel()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "http":
            body = orjson.dumps({"connections": len(clients)})
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            clients.add(send)
            try:
                while (await receive())["type"] != "websocket.disconnect":
                    pass
            finally:
                clients.discard(send)

    return app


if __name__ == "__main__":
    port, redis_host, redis_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    uvicorn.run(
        make_app(redis_host, redis_port),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_max_size=64 * 1024,
    )

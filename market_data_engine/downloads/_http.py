"""HTTP for history downloads: paced requests, bounded retries, rate limit answers obeyed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

Sleep = Callable[[float], Awaitable[None]]


class DownloadError(RuntimeError):
    """The download cannot go on (bad input, an upstream refusal or outage, a rate limit).

    What was stored before it is complete and kept; running the download again continues.
    """


class Pacer:
    """At most ``per_second`` requests a second: each waits for its slot."""

    def __init__(self, per_second: float, sleep: Sleep = asyncio.sleep) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._sleep = sleep

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)

    def pause_until(self, monotonic: float) -> None:
        """No request before ``monotonic`` (an upstream's quota is nearly used up)."""
        self._next = max(self._next, monotonic)


class Fetcher:
    """GETs through one client, paced, with retries.

    Transport errors and 5xx answers are retried ``retries`` times with doubling
    backoff; 429 is retried after its ``Retry-After`` if that is at most
    ``max_retry_wait`` seconds; 418 (an address banned for ignoring 429s) and every
    other 4xx end the download with the upstream's message.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        pacer: Pacer,
        *,
        source: str,
        max_retry_wait: float,
        retries: int = 3,
        backoff: float = 0.25,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.pacer = pacer
        self.source = source
        self.max_retry_wait = max_retry_wait
        self.retries = retries
        self.backoff = backoff
        self.requests = 0
        self._sleep = sleep

    async def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """The answer to a GET: 2xx, or 404 (the caller decides what a missing file means)."""
        failures = 0
        while True:
            await self.pacer.wait()
            self.requests += 1
            try:
                response = await self.client.get(url, params=params)
            except httpx.HTTPError as exc:
                failures += 1
                if failures > self.retries:
                    raise DownloadError(
                        f"{self.source} did not answer {url}: {exc or type(exc).__name__} "
                        f"(after {failures} attempts)"
                    ) from exc
                await self._sleep(self.backoff * 2 ** (failures - 1))
                continue
            status = response.status_code
            if status < 300 or status == 404:
                return response
            if status == 429 or status == 418:
                wait = retry_after(response)
                if status == 418 or wait is None or wait > self.max_retry_wait:
                    raise DownloadError(self._limited(response, wait))
                await self._sleep(wait)
                continue
            if status >= 500 and failures < self.retries:
                failures += 1
                await self._sleep(self.backoff * 2 ** (failures - 1))
                continue
            raise DownloadError(
                f"{self.source} answered {status} to {response.request.url}: {error_text(response)}"
            )

    def _limited(self, response: httpx.Response, wait: float | None) -> str:
        what = "banned this address" if response.status_code == 418 else "rate limited us"
        after = f"; it asks to wait {wait:g} s" if wait is not None else ""
        return (
            f"{self.source} {what} (HTTP {response.status_code}{after}): "
            f"{error_text(response)}. Run the download again later; it continues where "
            "it stopped."
        )


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the delta form; the date form is not used by these sources)."""
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def error_text(response: httpx.Response) -> str:
    """The upstream's own message: Binance's ``{"code", "msg"}``, else the body's start."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "msg" in body:
        return f"{body['msg']} (code {body.get('code')})"
    text = response.text.strip().replace("\n", " ")
    return text[:200] or response.reason_phrase

"""The InfluxDB v1 HTTP API for one database: ``/write`` line protocol, ``/query`` InfluxQL."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx
import orjson

from shared.tickstore._lineproto import quote_ident, quote_literal
from shared.tickstore.base import TickStoreUnavailable, time_bounds

_DROPPED = re.compile(r"dropped=(\d+)")


class TickStoreQueryError(TickStoreUnavailable):
    """InfluxDB answered, but with an error for the statement."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """``ok``; ``retry`` (not written, keep the data); ``rejected`` (bad points, don't resend)."""

    outcome: Literal["ok", "retry", "rejected"]
    error: str | None = None
    rejected_points: int = 0
    database_missing: bool = False


class InfluxHttp:
    """A thin async client for one database (InfluxDB 1.x, or 2.x/3.x v1 compatibility)."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        retention_policy: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self.timeout = timeout
        self._headers = {"Authorization": f"Token {token}"} if token else {}
        self._auth = httpx.BasicAuth(username, password or "") if username else None
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.url,
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 3.0)),
                headers=self._headers,
                auth=self._auth,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def ping(self) -> bool:
        try:
            resp = await self.client.get("/ping")
        except httpx.HTTPError:
            return False
        return resp.status_code == 204

    async def write(self, body: bytes) -> WriteResult:
        """POST line protocol (precision ns)."""
        params = {"db": self.database, "precision": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        try:
            resp = await self.client.post("/write", params=params, content=body)
        except httpx.HTTPError as exc:
            return WriteResult("retry", f"{type(exc).__name__}: {exc}")
        if resp.status_code == 204:
            return WriteResult("ok")
        text = resp.text[:500]
        if resp.status_code == 404 and "database not found" in text:
            return WriteResult("retry", text, database_missing=True)
        if resp.status_code == 400:
            # InfluxDB keeps the points it could parse and says how many it dropped.
            match = _DROPPED.search(text)
            return WriteResult("rejected", text, int(match.group(1)) if match else 1)
        return WriteResult("retry", f"HTTP {resp.status_code}: {text}")

    async def create_database(self) -> None:
        await self.query(f"CREATE DATABASE {quote_ident(self.database)}", method="POST")

    async def query(self, q: str, method: str = "GET") -> list[dict[str, Any]]:
        """Run InfluxQL; TickStoreUnavailable if unreachable, TickStoreQueryError if refused."""
        params = {"db": self.database, "q": q, "epoch": "ns"}
        try:
            resp = await self.client.request(method, "/query", params=params)
        except httpx.HTTPError as exc:
            raise TickStoreUnavailable(f"InfluxDB unreachable: {exc}") from exc
        if resp.status_code >= 500 or resp.status_code in (401, 403):
            raise TickStoreUnavailable(f"InfluxDB answered {resp.status_code}: {resp.text[:200]}")
        try:
            payload = orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise TickStoreQueryError(f"InfluxDB answered {resp.status_code}, not JSON") from exc
        if payload.get("error"):
            raise TickStoreQueryError(f"InfluxDB query failed: {payload['error']}")
        results: list[dict[str, Any]] = payload.get("results", [])
        for result in results:
            error = result.get("error")
            if error and "database not found" not in error:
                raise TickStoreQueryError(f"InfluxDB query failed: {error}")
        return results

    async def select(self, q: str) -> list[list[Any]]:
        """Rows (time first, epoch ns) of the first series a SELECT returns."""
        for result in await self.query(q):
            for series in result.get("series", []):
                return list(series.get("values", []))
        return []

    async def select_latest(
        self, measurement: str, fields: Sequence[str], cond: str, limit: int
    ) -> list[list[Any]]:
        """The newest ``limit`` rows matching ``cond``, returned oldest first."""
        columns = ", ".join(quote_ident(f) for f in fields)
        # Names and values are quoted (quote_ident/quote_literal in ``where``); limit is an int.
        q = (
            f"SELECT {columns} FROM {self.source(measurement)} WHERE {cond} "  # noqa: S608
            f"ORDER BY time DESC LIMIT {int(limit)}"
        )
        rows = await self.select(q)
        rows.reverse()
        return rows

    def source(self, measurement: str) -> str:
        """The FROM clause for a measurement (qualified when a retention policy is set)."""
        if self.retention_policy:
            parts = (self.database, self.retention_policy, measurement)
            return ".".join(quote_ident(x) for x in parts)
        return quote_ident(measurement)


def where(tags: dict[str, str], start: datetime | None, end: datetime | None) -> str:
    """A WHERE condition on tag equality and the half-open time range ``[start, end)``."""
    parts = [f"{quote_ident(k)} = {quote_literal(v)}" for k, v in tags.items()]
    lo, hi = time_bounds(start, end)
    if lo is not None:
        parts.append(f"time >= {lo}")
    if hi is not None:
        parts.append(f"time < {hi}")
    return " AND ".join(parts)

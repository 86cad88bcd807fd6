"""Route-walk contributions of /backtests: how to make a run, a valid body."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.contracts import CandleMsg, Timeframe
from tests.api_gateway.factories import Trader

# Not imported from route_walk: it imports this module while it loads.
R = "/api/v1"
SYMBOL = "SOLUSDT"
START = datetime(2025, 1, 6, tzinfo=UTC)


def candles(n: int = 400, start: datetime = START, symbol: str = SYMBOL) -> list[CandleMsg]:
    """A zig-zag of 1m candles (crossovers every few dozen bars)."""
    out = []
    for i in range(n):
        close = 100 + 5 * ((i // 20) % 2) + (i % 20) * 0.1
        t = start + timedelta(minutes=i)
        out.append(
            CandleMsg(
                symbol=symbol,
                timeframe=Timeframe.M1,
                start=t,
                end=t + timedelta(minutes=1),
                open=close,
                high=close + 0.5,
                low=close - 0.5,
                close=close,
                volume=10.0,
                trades=1,
            )
        )
    return out


def body(**overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "strategy": "ma_crossover",
        "params": {"fast": 5, "slow": 20},
        "symbol": SYMBOL,
        "timeframe": "1m",
        "start": START.isoformat(),
        "end": (START + timedelta(minutes=400)).isoformat(),
        "settings": {"sizing_method": "fixed_quantity", "sizing_params": {"quantity": "1"}},
    }
    out.update(overrides)
    return out


async def store_candles(client: httpx.AsyncClient) -> None:
    """Put the candles into the app's own tick store (the one its routes read)."""
    ctx = client._transport.app.state.ctx  # type: ignore[attr-defined]
    store = ctx.tickstore()
    await store.start()
    if not await store.query_candles(SYMBOL, Timeframe.M1, START, None, limit=1):
        await store.write_candles(candles())
        await store.flush()
        await asyncio.sleep(0)


async def _run(client: httpx.AsyncClient, owner: Trader) -> int:
    await store_candles(client)
    r = await client.post(f"{R}/backtests", headers=owner.headers, json=body())
    assert r.status_code == 202, r.text
    run_id = int(r.json()["id"])
    for _ in range(200):  # let it finish, so DELETE in the walk is not refused as active
        got = await client.get(f"{R}/backtests/{run_id}", headers=owner.headers)
        if got.json()["status"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.02)
    return run_id


def csv_text(n: int = 400, start: datetime = START) -> str:
    """The zig-zag candles as an uploaded CSV file."""
    rows = ["timestamp,open,high,low,close,volume"]
    rows += [
        f"{c.start.isoformat()},{c.open},{c.high},{c.low},{c.close},{c.volume}"
        for c in candles(n, start)
    ]
    return "\n".join(rows) + "\n"


async def upload(
    client: httpx.AsyncClient,
    owner: Trader,
    content: str | bytes | None = None,
    **query: str,
) -> httpx.Response:
    params = {"symbol": SYMBOL, "timeframe": "1m", **query}
    return await client.post(
        f"{R}/backtest-data",
        headers={**owner.headers, "content-type": "text/csv"},
        params=params,
        content=csv_text() if content is None else content,
    )


async def _dataset(client: httpx.AsyncClient, owner: Trader) -> int:
    r = await upload(client, owner)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


PARAM_FACTORIES = {"run_id": _run, "dataset_id": _dataset}

BODIES: dict[tuple[str, str], dict[str, Any]] = {("POST", f"{R}/backtests"): body()}

"""Candles a user uploads to backtest on: checked whole, then stored; listed, read, deleted.

An upload is parsed and checked exactly as ``algotrade backtest --data`` checks a file
(the first problem named with its line and column) before anything is written, so a bad
file leaves nothing behind. A stored dataset belongs to its user: another user's id is a
404 like an id that does not exist.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import Timeframe
from shared.errors import Conflict, TooManyRequests, Unprocessable
from shared.models import BacktestDataset, BacktestRun
from shared.repository import Page, UserScopedRepository

from .backtest.data import Bars, DataFormat, from_ns, parse_bars

ACTIVE = ("queued", "running")


class BacktestDatasetRepository(UserScopedRepository[BacktestDataset]):
    model = BacktestDataset
    not_found_message = "backtest data not found"

    async def count(self) -> int:
        stmt = select(func.count()).select_from(self._scoped().subquery())
        return int(await self.session.scalar(stmt) or 0)

    async def page(self, limit: int, offset: int) -> Page[BacktestDataset]:
        return await self.list(limit, offset, order_by=BacktestDataset.id.desc())

    async def content(self, dataset_id: int) -> bytes:
        row = await self.get(dataset_id)
        data = await self.session.scalar(
            select(BacktestDataset.content).where(
                BacktestDataset.id == row.id, BacktestDataset.user_id == self.user_id
            )
        )
        return data or b""

    async def in_use(self, dataset_id: int) -> bool:
        """Whether a queued or running run of the user reads the dataset."""
        requests = await self.session.scalars(
            select(BacktestRun.request).where(
                BacktestRun.user_id == self.user_id, BacktestRun.status.in_(ACTIVE)
            )
        )
        return any(
            dataset_id in (r.get("dataset_id"), r.get("intrabar_dataset_id"))
            or dataset_id in (r.get("dataset_ids") or ())
            for r in requests
        )


class DatasetService:
    """One user's uploaded candles."""

    def __init__(
        self, session: AsyncSession, user_id: int, *, now: datetime, max_datasets: int
    ) -> None:
        self.repo = BacktestDatasetRepository(session, user_id)
        self.session = session
        self.now = now
        self.max_datasets = max_datasets

    async def upload(
        self,
        content: bytes,
        fmt: DataFormat,
        *,
        name: str,
        symbol: str,
        timeframe: Timeframe,
        max_bars: int,
    ) -> BacktestDataset:
        """Check the file whole and store it (422 naming line and column if it is bad)."""
        if await self.repo.count() >= self.max_datasets:
            raise TooManyRequests(
                f"{self.max_datasets} datasets are stored already; delete one first",
                retry_after=60,
                code="dataset_limit",
            )
        if not content:
            raise Unprocessable("the file is empty", code="bad_backtest_data")
        bars = await asyncio.to_thread(parse_bars, content, fmt, symbol, timeframe)
        if len(bars) > max_bars:
            raise Unprocessable(
                f"the file has {len(bars):,} bars; at most {max_bars:,} are allowed per run",
                code="bad_backtest_data",
            )
        row = BacktestDataset(
            name=name,
            symbol=symbol,
            timeframe=timeframe.value,
            format=fmt,
            size_bytes=len(content),
            bars=len(bars),
            gaps=bars.gap_count,
            first_bar=from_ns(int(bars.ts[0])),
            last_bar=from_ns(int(bars.ts[-1])),
            data_hash=bars.data_hash(),
            content=content,
            created_at=self.now,
        )
        self.repo.add(row)
        await self.session.flush()
        return row

    async def list(self, limit: int, offset: int) -> Page[BacktestDataset]:
        return await self.repo.page(limit, offset)

    async def get(self, dataset_id: int) -> BacktestDataset:
        return await self.repo.get(dataset_id)

    async def delete(self, dataset_id: int) -> None:
        row = await self.repo.get(dataset_id, for_update=True)
        if await self.repo.in_use(row.id):
            raise Conflict("a queued or running backtest reads this data; cancel it first")
        await self.session.delete(row)


async def load_dataset(
    session: AsyncSession, user_id: int, dataset_id: int, *, symbol: str | None = None
) -> tuple[BacktestDataset, Bars]:
    """The user's dataset and its bars (404 for another user's; 422 for another symbol)."""
    repo = BacktestDatasetRepository(session, user_id)
    row = await repo.get(dataset_id)
    if symbol is not None and row.symbol != symbol:
        raise Unprocessable(
            f"dataset {dataset_id} holds {row.symbol}, not {symbol}", code="dataset_mismatch"
        )
    content = await repo.content(dataset_id)
    fmt: DataFormat = "parquet" if row.format == "parquet" else "csv"
    bars = await asyncio.to_thread(parse_bars, content, fmt, row.symbol, Timeframe(row.timeframe))
    return row, bars

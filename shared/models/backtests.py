"""Backtest runs of a user: the request, where the run is, and its result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, BigId, UTCDateTime, ids_never_reused


class BacktestRun(Base):
    """One backtest (or sweep) a user asked for.

    ``status``: queued -> running -> done | failed | cancelled. ``request`` is the
    validated request as submitted; ``result`` the report (JSON), set once when done.
    """

    __tablename__ = "backtest_runs"
    __table_args__ = ids_never_reused(Index("ix_backtest_runs_user_status", "user_id", "status"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="backtest")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    strategy: Mapped[str] = mapped_column(String(64), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    timeframe: Mapped[str] = mapped_column(String(8), nullable=False)
    request: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    bars: Mapped[int | None] = mapped_column(BigId, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BacktestSweepPoint(Base):
    """One grid point of a sweep run as its own Celery task (distributed profile).

    Written by the task that ran it, once (a task delivered again skips the points it
    finds); the last task to finish ranks the run's points into its result. ``summary``:
    the point's figures; ``error``: why it failed; neither: not run (the sweep was
    cancelled or another point failed). Deleted with its run.
    """

    __tablename__ = "backtest_sweep_points"

    run_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("backtest_runs.id", ondelete="CASCADE"), primary_key=True
    )
    point: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    task_id: Mapped[str] = mapped_column(String(64), nullable=False)
    """The Celery task that ran it."""


class BacktestDataset(Base):
    """Candles a user uploaded (CSV or Parquet) to backtest on, checked when stored.

    ``content`` is the file as uploaded; the summary columns describe what it held.
    """

    __tablename__ = "backtest_datasets"
    __table_args__ = ids_never_reused(Index("ix_backtest_datasets_user", "user_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    timeframe: Mapped[str] = mapped_column(String(8), nullable=False)
    format: Mapped[str] = mapped_column(String(8), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigId, nullable=False)
    bars: Mapped[int] = mapped_column(BigId, nullable=False)
    gaps: Mapped[int] = mapped_column(BigId, nullable=False)
    first_bar: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_bar: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    data_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

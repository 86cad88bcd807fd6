"""What a backtest run produces: orders, fills, round trips, the marked equity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np

from order_processor.domain.charges import ChargeBreakdown
from order_processor.domain.fills import Fill
from order_processor.domain.money import ZERO
from order_processor.domain.orders import Order
from shared.contracts import Side, SignalMsg, Timeframe
from shared.instruments import Instrument
from strategy_workers.evaluation import Skipped

from .data import Bars
from .settings import BacktestRequest


class BacktestCancelled(Exception):
    """The run was cancelled (its caller's ``cancelled`` said so)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Whose orders these are: the ids that go into the idempotency keys (0 for a dry run)."""

    user_id: int = 0
    broker_account_id: int = 0
    subscription_id: int = 0


@dataclass(frozen=True, slots=True)
class FillRecord:
    fill: Fill
    charges: ChargeBreakdown
    bar: int


@dataclass(slots=True)
class Trade:
    """One round trip: flat -> open -> flat (``exit_time`` None: still open at the end)."""

    symbol: str
    side: Side
    quantity: Decimal
    entry_time: datetime
    entry_price: Decimal
    entry_bar: int
    cost: Decimal = ZERO
    charges: Decimal = ZERO
    exit_time: datetime | None = None
    exit_price: Decimal | None = None
    exit_bar: int | None = None
    gross_pnl: Decimal = ZERO
    exit_reason: str = ""
    mae: float = 0.0
    """Maximum adverse excursion: the worst marked P&L while open (<= 0)."""
    mfe: float = 0.0
    """Maximum favourable excursion: the best marked P&L while open (>= 0)."""
    tag: str = ""

    @property
    def pnl(self) -> Decimal:
        """Net P&L: gross minus the charges of its fills."""
        return self.gross_pnl - self.charges

    @property
    def holding_seconds(self) -> float | None:
        if self.exit_time is None:
            return None
        return (self.exit_time - self.entry_time).total_seconds()


@dataclass(slots=True)
class BacktestRun:
    """Everything a run produced, before it is reported."""

    request: BacktestRequest
    bars: Bars
    instrument: Instrument
    orders: list[Order] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    signals: int = 0
    signal_log: list[tuple[int, SignalMsg]] = field(default_factory=list)
    """Every signal with the index of the bar it was decided on."""
    evaluated_bars: int = 0
    equity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Equity marked at every bar's close (float; the booked amounts are Decimal)."""
    final_equity: Decimal = ZERO
    fee_model: str = "NoCharges"
    """The fee model's name (NoCharges when charges are off or the venue is unknown)."""
    fine_timeframe: Timeframe | None = None
    """The finer candles replayed inside bars that reach a stop or a target (None: none)."""
    intrabar_replayed: int = 0
    """Stop or target exits decided by replaying the finer candles of their bar."""
    intrabar_unresolved: int = 0
    """Bars that touched both stop and target and were decided by the stop-first rule (no
    finer candles there to tell)."""
    history: Bars | None = None
    """The data the run read when it trades from a later bar (``bars`` is its part from
    ``lead`` on): the strategy's warm-up before the first traded bar. None: ``bars``."""
    lead: int = 0
    """Bars of ``history`` before the first traded bar (read, never traded)."""

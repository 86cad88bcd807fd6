"""What crosses a process boundary, declared once: messages, stream and channel names, task names.

Messages are immutable and versioned (``v``). Producers and consumers import
these classes; no service imports another service's code.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from shared.logs import current_correlation_id


class Timeframe(StrEnum):
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1d"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class SignalAction(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    EXIT = "EXIT"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"
    SL_M = "SL-M"


class Product(StrEnum):
    CNC = "CNC"
    MIS = "MIS"


class Validity(StrEnum):
    DAY = "DAY"
    IOC = "IOC"


Origin = Literal["manual", "subscription", "system"]
"""Who asked for an order: a trader by hand, a strategy subscription, or the platform
itself (``system``: MIS square-off, liquidation). The one definition: import it."""


class SubscriptionStatus(StrEnum):
    """Whether a strategy subscription is evaluated on candle close (the one definition).

    A subscription is created ``active``; its owner pauses and resumes it, and closing
    its broker account pauses it for good (a paused subscription keeps its settings).
    """

    ACTIVE = "active"
    PAUSED = "paused"


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    DENIED = "DENIED"
    SUBMITTED = "SUBMITTED"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"
    PENDING_CANCEL = "PENDING_CANCEL"
    """A cancel was accepted and is on its way to the broker; the order may still fill."""
    PENDING_UPDATE = "PENDING_UPDATE"
    """A change of quantity or prices was accepted and is being checked and applied."""


def plain_decimal(value: Decimal) -> str:
    """Exact, in plain notation, without trailing zeros: ``Decimal("1E+5")`` -> ``"100000"``,
    ``Decimal("149.50000000")`` -> ``"149.5"``, ``Decimal("-0E-8")`` -> ``"0"``, whatever
    the database or the arithmetic returned."""
    if value.is_zero():
        return "0"  # no "-0" (a zero times a negative number is a negative zero)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


Amount = Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str, when_used="json")]
"""A quantity, price or money amount of an event: exact, written as ``plain_decimal`` in JSON
(the bus, the WebSocket frames), the same as the REST answers."""


class Message(BaseModel):
    """Base of every bus message: frozen, unknown fields refused, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    v: int = 1


class TickMsg(Message):
    kind: Literal["tick"] = "tick"
    symbol: str
    ts: datetime
    price: float
    qty: float = 0.0


class CandleMsg(Message):
    kind: Literal["candle"] = "candle"
    symbol: str
    timeframe: Timeframe
    start: datetime
    end: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int


MarketReason = Literal["open", "always_open", "before_open", "after_close", "weekend", "holiday"]
"""Why a market is open or closed right now."""


class MarketStatusMsg(Message):
    """Whether an exchange is trading, from its calendar: published when a session opens or
    closes, answered by ``GET /market/status``. Times are UTC; ``message`` states the next
    open in the exchange's own time ("NSE is closed (weekend); it opens Mon 07 Dec 09:15 IST")."""

    kind: Literal["market_status"] = "market_status"
    exchange: str
    timezone: str
    is_open: bool
    reason: MarketReason
    holiday: str | None = None
    """The holiday's name when one closes the exchange today (its local date)."""
    trading_day: date
    """The exchange's local date at ``ts``."""
    session_open: datetime | None = None
    """Today's session (``None`` on a day without one)."""
    session_close: datetime | None = None
    next_open: datetime | None = None
    """The next session open after ``ts``; ``None`` for a market that never closes."""
    next_close: datetime | None = None
    message: str
    ts: datetime


class Event(Message):
    """A message that reports a change stored in the database (signals, orders, fills,
    positions, accounts, control).

    Events leave through the transactional outbox (``shared.outbox``): written in the
    transaction of the change, published after it commits, at least once. The outbox
    gives each one an ``event_id``; a consumer that must not act twice drops an id it
    has seen (the WebSocket service does).
    """

    event_id: str | None = None


class SignalMsg(Event):
    kind: Literal["signal"] = "signal"
    signal_id: str
    user_id: int
    subscription_id: int
    strategy: str
    symbol: str
    timeframe: Timeframe
    candle_end: datetime
    action: SignalAction
    confidence: float = Field(ge=0, le=1)
    price: float
    stop: float | None = None
    target: float | None = None
    reason: str = ""


class OrderIntent(Message):
    """An order a strategy or a person wants placed; ``client_order_id`` is its idempotency key.

    ``purpose="open"`` (the default) is an order as given: ``side`` and
    ``quantity`` are required. ``purpose="close"`` is an exit of the position in
    (account, symbol, product): it has no ``side`` (the order processor takes the
    side that closes) and ``quantity`` is an optional cap; the processor sizes it
    under the account lock to the open quantity net of exits already working,
    never past flat. An exit is a MARKET order with no prices.
    """

    kind: Literal["order_intent"] = "order_intent"
    client_order_id: str
    user_id: int
    broker_account_id: int
    symbol: str
    side: Side | None = None
    quantity: Amount | None = None
    order_type: OrderType = OrderType.MARKET
    limit_price: Amount | None = None
    trigger_price: Amount | None = None
    product: Product = Product.MIS
    validity: Validity = Validity.DAY
    origin: Origin = "subscription"
    subscription_id: int | None = None
    algo_tag: str | None = None
    stop: Amount | None = None
    target: Amount | None = None
    created_at: datetime
    purpose: Literal["open", "close"] = "open"
    correlation_id: str | None = Field(default_factory=current_correlation_id)
    """The id that follows the request or signal behind this order through every process's
    logs (``shared.logs``); not one of the order's terms (not in its request hash). Optional:
    messages from producers that predate it have none."""

    @model_validator(mode="after")
    def _terms_fit_purpose(self) -> Self:
        if self.purpose == "open":
            if self.side is None or self.quantity is None:
                raise ValueError("an open intent needs a side and a quantity")
            return self
        if self.side is not None:
            raise ValueError("a close intent has no side: the one that closes is taken")
        if self.quantity is not None and self.quantity <= 0:
            raise ValueError("the quantity of a close intent is a cap and must be positive")
        priced = self.limit_price is not None or self.trigger_price is not None
        if self.order_type is not OrderType.MARKET or priced:
            raise ValueError("a close intent is a market order without prices")
        return self


class OrderCommand(Message):
    """A change to an order already placed, on the same ordered path as the intents.

    The request is stored with the order first (status PENDING_CANCEL, or
    PENDING_UPDATE with the requested terms); the command tells the order
    processor that owns the account to carry it out. It is idempotent: a command
    whose order has moved on since (filled, cancelled, the change applied)
    changes nothing. ``version`` is the order's version once the request was stored.
    """

    kind: Literal["order_command"] = "order_command"
    action: Literal["cancel", "modify"]
    user_id: int
    broker_account_id: int
    order_id: int
    version: int
    created_at: datetime
    correlation_id: str | None = Field(default_factory=current_correlation_id)
    """As ``OrderIntent.correlation_id``: the request that asked for the change."""


class OrderEvent(Event):
    """The whole order after a change. ``version`` grows by at least one on every change of
    the order, so a consumer keeps the event with the highest version and drops the rest
    (an older state arriving late, or the same event delivered twice)."""

    kind: Literal["order"] = "order"
    user_id: int
    order_id: int
    version: int
    broker_account_id: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    product: Product
    validity: Validity
    status: OrderStatus
    quantity: Amount
    filled_quantity: Amount
    limit_price: Amount | None = None
    trigger_price: Amount | None = None
    average_price: Amount | None = None
    origin: Origin
    subscription_id: int | None = None
    algo_tag: str | None = None
    stop_price: Amount | None = None
    target_price: Amount | None = None
    reason_code: str | None = None
    reason: str | None = None
    created_at: datetime
    ts: datetime


class FillEvent(Event):
    kind: Literal["fill"] = "fill"
    user_id: int
    order_id: int
    fill_id: int
    symbol: str
    side: Side
    quantity: Amount
    price: Amount
    charges: Amount
    ts: datetime


class PositionEvent(Event):
    kind: Literal["position"] = "position"
    user_id: int
    broker_account_id: int
    symbol: str
    quantity: Amount
    average_price: Amount
    realised_pnl: Amount
    unrealised_pnl: Amount
    ts: datetime


class AccountEvent(Event):
    """A broker account marked at the last prices: everything the account summary has.

    Sent after each booking and again when the marks of its open positions move
    (at most about once a second per account)."""

    kind: Literal["account"] = "account"
    user_id: int
    broker_account_id: int
    currency: str
    starting_capital: Amount
    cash: Amount
    market_value: Amount
    equity: Amount
    margin_used: Amount
    free_margin: Amount
    realised_pnl: Amount
    unrealised_pnl: Amount
    charges: Amount
    start_of_day_equity: Amount
    day_pnl: Amount
    open_positions: int
    ts: datetime


class ControlEvent(Event):
    """Subscription changes, halts and resumes: read by workers and the order processor."""

    kind: Literal["control"] = "control"
    action: Literal[
        "subscription_changed",
        "halt",
        "resume",
        "liquidate",
        "session_revoked",
        "account_closed",  # closed or deleted: drop what is cached of broker_account_id
        "role_changed",  # user_id's role changed: live admin feeds end until it signs in again
    ]
    user_id: int | None = None  # None: everyone
    subscription_id: int | None = None
    broker_account_id: int | None = None  # account_closed: which account
    session_id: str | None = None  # session_revoked: only this login session
    reason: str = ""
    ts: datetime


class BacktestProgressMsg(Message):
    """Where one of a user's backtest runs is (on the user's channel; may be dropped: the
    run's row is the truth). ``progress`` is 0..1; ``status`` queued, running, done,
    failed or cancelled."""

    kind: Literal["backtest_progress"] = "backtest_progress"
    user_id: int
    run_id: int
    status: str
    progress: float = Field(ge=0, le=1)
    error: str | None = None
    ts: datetime


# Streams (Redis Streams in the distributed profile): delivery that must not lose messages.
ORDER_PARTITIONS = 16
"""Broker accounts are split into this many partitions (``account id % ORDER_PARTITIONS``);
each has its own intent stream and is owned by one order processor at a time. Every
producer and consumer must agree on it: change it only with the streams drained."""
GROUP_ORDER_PROCESSOR = "order_processor"


def order_partition(broker_account_id: int) -> int:
    """The partition of a broker account: who decides its orders, which stream they take."""
    return broker_account_id % ORDER_PARTITIONS


def partition_stream(partition: int) -> str:
    """The intent stream of one partition. The braces are a Redis Cluster hash tag: all of a
    partition's keys live in one slot, whatever else is appended to them."""
    return f"stream:order_intents:{{p{partition}}}"


def intent_stream(broker_account_id: int) -> str:
    """The stream that carries the intents and commands of ``broker_account_id``, in order."""
    return partition_stream(order_partition(broker_account_id))


ORDER_STREAMS = tuple(partition_stream(p) for p in range(ORDER_PARTITIONS))

# Channels (pub/sub): fan-out that may drop (public market data, user notifications
# whose truth is in the database).
CHANNEL_TICKS = "md:ticks:{symbol}"
CHANNEL_CANDLES = "md:candles:{symbol}:{timeframe}"
CHANNEL_USER = "user:{user_id}"  # orders, fills, positions, signals, pnl of one user
CHANNEL_CONTROL = "control"
CHANNEL_MARKET_STATUS = "md:status"  # MarketStatusMsg when an exchange opens or closes

# Celery task names.
TASK_EVALUATE_CANDLES = "strategy_workers.evaluate_candles"
TASK_RUN_BACKTEST = "analytics_service.run_backtest"
TASK_RUN_SWEEP_POINTS = "analytics_service.run_sweep_points"
"""Some grid points of a sweep run as a task of their own (``run_backtest`` sends them)."""

# Keys (Redis): the ledger of evaluation tasks sent and not yet finished (shared/task_ledger.py),
# on the Celery broker's Redis. A hash (task id -> the task as JSON) and a sorted set (task id
# by when it is due to be sent again, Unix seconds). The braces are a Redis Cluster hash tag
# (literal, not a format field): both keys live in one slot, so they change together.
EVALUATION_LEDGER = "tasks:evaluations:{ledger}"
EVALUATION_LEDGER_DUE = "tasks:evaluations:{ledger}:due"


def user_channel(user_id: int) -> str:
    return CHANNEL_USER.format(user_id=user_id)


# Channel names are built for every tick and candle published; the few thousand
# distinct ones are remembered.
@functools.lru_cache(maxsize=65_536)
def tick_channel(symbol: str) -> str:
    return CHANNEL_TICKS.format(symbol=symbol)


@functools.lru_cache(maxsize=65_536)
def candle_channel(symbol: str, timeframe: Timeframe | str) -> str:
    return CHANNEL_CANDLES.format(symbol=symbol, timeframe=str(timeframe))

"""Small builders for orders, instruments and account views used across the order tests."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from order_processor.domain.orders import Order
from order_processor.domain.risk import AccountView, PositionView, WorkingOrderView
from shared.calendar import IST, AlwaysOpenCalendar, NSECalendar
from shared.contracts import OrderStatus, Side
from shared.instruments import AssetClass, Instrument

TRADING_DAY = date(2025, 6, 10)  # a Tuesday, NSE open
NEXT_TRADING_DAY = date(2025, 6, 11)
NSE = NSECalendar()
ALWAYS_OPEN = AlwaysOpenCalendar()


def make_instrument(
    symbol: str,
    exchange: str = "NSE",
    *,
    lot_size: Decimal = Decimal(1),
    tick_size: Decimal = Decimal("0.05"),
    sector: str = "",
    freeze_qty: int | None = None,
) -> Instrument:
    """A catalog instrument with the trading rules given (the rest only needs to be valid)."""
    crypto = exchange == "BINANCE"
    return Instrument(
        symbol=symbol,
        name=symbol,
        exchange=exchange,
        asset_class=AssetClass.CRYPTO if crypto else AssetClass.EQUITY,
        currency="USDT" if crypto else "INR",
        sector=sector,
        tick_size=tick_size,
        lot_size=lot_size,
        freeze_qty=freeze_qty,
        ref_price=Decimal(1000),
        daily_vol=0.02,
    )


INFY = make_instrument("INFY", lot_size=Decimal(1), tick_size=Decimal("0.05"), sector="IT")
BTC = make_instrument("BTCUSDT", "BINANCE", lot_size=Decimal("0.001"), tick_size=Decimal("0.01"))


def ist(hour: int, minute: int = 0, second: int = 0, day: date = TRADING_DAY) -> datetime:
    """An aware datetime on ``day`` at the given IST wall time."""
    return datetime.combine(day, time(hour, minute, second), IST)


def D(value: str | int) -> Decimal:
    return Decimal(value)


def make_order(**overrides: Any) -> Order:
    fields: dict[str, Any] = {
        "user_id": 1,
        "broker_account_id": 10,
        "client_order_id": "c-1",
        "symbol": "INFY",
        "side": Side.BUY,
        "quantity": Decimal(10),
        "created_at": ist(10),
    }
    fields.update(overrides)
    return Order(**fields)


def submitted(**overrides: Any) -> Order:
    """An order already moved to SUBMITTED (what the service hands the broker)."""
    order = make_order(**overrides)
    return order.with_status(OrderStatus.SUBMITTED, order.created_at)


def position(
    symbol: str, qty: int | str, avg: int | str, sector: str | None = None
) -> PositionView:
    return PositionView(symbol, Decimal(qty), Decimal(avg), sector)


def working(
    symbol: str, side: Side, qty: int | str, price: int | str | None = None
) -> WorkingOrderView:
    return WorkingOrderView(symbol, side, Decimal(qty), None if price is None else Decimal(price))


def make_view(
    *,
    prices: dict[str, str | int] | None = None,
    positions: list[PositionView] | None = None,
    **overrides: Any,
) -> AccountView:
    """A healthy 1,00,000 INR account at 10:00 IST on a trading day; INFY last at 1000."""
    prices = {"INFY": 1000} if prices is None else prices
    last = {s: Decimal(p) for s, p in prices.items()}
    fields: dict[str, Any] = {
        "now": ist(10),
        "equity": Decimal(100_000),
        "cash": Decimal(100_000),
        "start_of_day_equity": Decimal(100_000),
        "start_of_week_equity": Decimal(100_000),
        "peak_equity": Decimal(100_000),
        "instrument": INFY,
        "calendar": NSE,
        "positions": {p.symbol: p for p in positions or []},
        "last_price": last.get,
    }
    fields.update(overrides)
    return AccountView(**fields)

"""Orders, fills, positions, account summaries and the kill switch, as the API shows them.

Money and prices are exact decimals written as JSON strings in plain notation
(``"2501.35"``, never ``"2.50135E+3"``), the same on every database.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from api_gateway.schemas.common import Parsed, PublicModel, RequestModel
from shared.contracts import Amount, OrderStatus, OrderType, Origin, Product, Side, Validity

Money = Amount
Quantity = Annotated[Parsed[Decimal], Field(gt=0, le=Decimal("1e9"), decimal_places=8)]
Price = Annotated[Parsed[Decimal], Field(gt=0, le=Decimal("1e12"), decimal_places=8)]
ClientOrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9&_.\-]*$")]


class OrderCreate(RequestModel):
    broker_account_id: int = Field(ge=1, le=2**62)
    symbol: Symbol
    side: Parsed[Side]
    quantity: Quantity
    order_type: Parsed[OrderType] = OrderType.MARKET
    limit_price: Price | None = None
    trigger_price: Price | None = None
    product: Parsed[Product] = Product.MIS
    validity: Parsed[Validity] = Validity.DAY
    client_order_id: ClientOrderId | None = Field(
        None,
        description="Idempotency key: the same key with the same body returns the first "
        "result; with another body, 422. The Idempotency-Key header works too.",
    )
    stop: Price | None = Field(None, description="Protective stop of the trade (risk per trade)")
    target: Price | None = None


class PositionClose(RequestModel):
    broker_account_id: int = Field(ge=1, le=2**62)
    symbol: Symbol
    product: Parsed[Product] = Product.MIS
    quantity: Quantity | None = Field(
        None, description="Close at most this much (default: the whole open position)"
    )
    client_order_id: ClientOrderId | None = Field(
        None, description="Idempotency key, as for placing an order"
    )


class OrderUpdate(RequestModel):
    quantity: Quantity | None = None
    limit_price: Price | None = None
    trigger_price: Price | None = None

    @model_validator(mode="after")
    def _something(self) -> OrderUpdate:
        if self.quantity is None and self.limit_price is None and self.trigger_price is None:
            raise ValueError("give a new quantity, limit_price or trigger_price")
        return self


class RiskDecisionPublic(PublicModel):
    check_name: str
    approved: bool
    code: str
    message: str
    ts: datetime


class OrderPublic(PublicModel):
    id: int
    version: int = Field(description="one more on every change of the order; keep the highest")
    client_order_id: str
    broker_account_id: int
    symbol: str
    side: Side
    quantity: Money
    order_type: OrderType
    limit_price: Money | None
    trigger_price: Money | None
    product: Product
    validity: Validity
    status: OrderStatus
    filled_quantity: Money
    average_price: Money | None
    origin: Origin
    subscription_id: int | None
    algo_tag: str | None
    stop_price: Money | None
    target_price: Money | None
    reason_code: str | None
    reason: str | None
    created_at: datetime
    submitted_at: datetime | None
    triggered_at: datetime | None
    updated_at: datetime


class OrderDetail(OrderPublic):
    risk_decisions: list[RiskDecisionPublic]


class CancelAllResult(PublicModel):
    count: int
    orders: list[OrderPublic]


class FillPublic(PublicModel):
    id: int
    order_id: int
    broker_account_id: int
    symbol: str
    side: Side
    quantity: Money
    price: Money
    charges: Money
    charges_detail: dict[str, str]
    ts: datetime


class PositionPublic(PublicModel):
    id: int
    broker_account_id: int
    symbol: str
    product: Product
    quantity: Money
    average_price: Money
    realised_pnl: Money
    last_price: Money | None
    market_value: Money
    unrealised_pnl: Money
    updated_at: datetime


class AccountSummaryPublic(PublicModel):
    broker_account_id: int
    currency: str
    starting_capital: Money
    cash: Money
    market_value: Money
    equity: Money
    margin_used: Money
    free_margin: Money
    realised_pnl: Money
    unrealised_pnl: Money
    charges: Money
    start_of_day_equity: Money
    day_pnl: Money
    open_positions: int
    as_of: datetime


# -- kill switch --------------------------------------------------------------


class SelfHalt(RequestModel):
    reason: str = Field("", max_length=300)


class AdminHalt(RequestModel):
    user_id: int | None = Field(None, ge=1, le=2**62, description="omit to halt everyone")
    reason: str = Field(min_length=1, max_length=300)


class AdminScope(RequestModel):
    user_id: int | None = Field(None, ge=1, le=2**62, description="omit for everyone")


class HaltPublic(PublicModel):
    id: int
    user_id: int | None
    reason: str
    created_by: int | None
    created_at: datetime


class TradingStatus(PublicModel):
    halted: bool
    halts: list[HaltPublic]


class KillSwitchOutcome(PublicModel):
    halts: list[HaltPublic]
    cancelled_order_ids: list[int]
    orders: list[OrderPublic]


class AdminTradingStatus(PublicModel):
    global_halt: HaltPublic | None
    user_halts: list[HaltPublic]

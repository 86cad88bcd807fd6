"""Transaction charges: an Indian discount broker's NSE equity schedule and a crypto fee.

Every item is computed on the fill's turnover (quantity x price) and rounded half
up to the smallest unit of the currency it is paid in (paise for NSE, 8 decimals
of the quote asset for crypto), and a positive item is never rounded to zero: it
is at least one unit. Brokerage is charged per executed *order* and capped per order, so a
fill's brokerage is the order's cumulative brokerage after the fill minus what
its earlier fills already paid: the fills of one order sum to exactly one
order's brokerage.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import Product, Side

from .fills import Fill
from .money import PAISE, SATOSHI, ZERO, round_charge
from .quick import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class ChargeBreakdown:
    """Itemised charges of one fill, each in the fill's currency rounded to its unit."""

    brokerage: Decimal = ZERO
    stt: Decimal = ZERO
    exchange_txn: Decimal = ZERO
    sebi_fee: Decimal = ZERO
    stamp_duty: Decimal = ZERO
    gst: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return (
            self.brokerage
            + self.stt
            + self.exchange_txn
            + self.sebi_fee
            + self.stamp_duty
            + self.gst
        )

    def items(self) -> dict[str, Decimal]:
        """Item name -> amount, in a fixed order (zero items included)."""
        return {
            "brokerage": self.brokerage,
            "stt": self.stt,
            "exchange_txn": self.exchange_txn,
            "sebi_fee": self.sebi_fee,
            "stamp_duty": self.stamp_duty,
            "gst": self.gst,
        }


class FeeModel(Protocol):
    """Anything that prices a fill's charges."""

    def charges(
        self,
        side: Side,
        product: Product,
        quantity: Decimal,
        price: Decimal,
        order_turnover_before: Decimal = ZERO,
    ) -> ChargeBreakdown: ...


class ChargeSchedule(BaseModel):
    """NSE equity charges of a typical discount broker; rates are fractions of turnover.

    Defaults: intraday (MIS) brokerage 0.03% capped at 20 INR per order, delivery
    (CNC) free; STT 0.1% both sides on delivery, 0.025% on the intraday sell side;
    NSE transaction charge 0.00297%; SEBI fee 10 INR per crore; stamp duty on the
    buy side 0.015% delivery, 0.003% intraday; GST 18% on brokerage + exchange
    charge + SEBI fee.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    intraday_brokerage_rate: Decimal = Field(Decimal("0.0003"), ge=0, le=1)
    intraday_brokerage_cap: Decimal | None = Field(Decimal(20), ge=0)
    delivery_brokerage_rate: Decimal = Field(ZERO, ge=0, le=1)
    delivery_brokerage_cap: Decimal | None = Field(None, ge=0)
    stt_delivery_rate: Decimal = Field(Decimal("0.001"), ge=0, le=1)
    stt_intraday_sell_rate: Decimal = Field(Decimal("0.00025"), ge=0, le=1)
    exchange_txn_rate: Decimal = Field(Decimal("0.0000297"), ge=0, le=1)
    sebi_rate: Decimal = Field(Decimal("0.000001"), ge=0, le=1)
    stamp_delivery_buy_rate: Decimal = Field(Decimal("0.00015"), ge=0, le=1)
    stamp_intraday_buy_rate: Decimal = Field(Decimal("0.00003"), ge=0, le=1)
    gst_rate: Decimal = Field(Decimal("0.18"), ge=0, le=1)
    unit: Decimal = Field(PAISE, gt=0, description="smallest amount charged (INR: paise)")

    def charges(
        self,
        side: Side,
        product: Product,
        quantity: Decimal,
        price: Decimal,
        order_turnover_before: Decimal = ZERO,
    ) -> ChargeBreakdown:
        """Charges of one fill of ``quantity`` at ``price``."""
        turnover = quantity * price
        intraday = product is Product.MIS
        buy = side is Side.BUY
        brokerage = self._order_brokerage(intraday, order_turnover_before + turnover) - (
            self._order_brokerage(intraday, order_turnover_before)
        )
        if intraday:
            stt_rate = ZERO if buy else self.stt_intraday_sell_rate
            stamp_rate = self.stamp_intraday_buy_rate if buy else ZERO
        else:
            stt_rate = self.stt_delivery_rate
            stamp_rate = self.stamp_delivery_buy_rate if buy else ZERO
        exchange = round_charge(turnover * self.exchange_txn_rate, self.unit)
        sebi = round_charge(turnover * self.sebi_rate, self.unit)
        return ChargeBreakdown(
            brokerage=brokerage,
            stt=round_charge(turnover * stt_rate, self.unit),
            exchange_txn=exchange,
            sebi_fee=sebi,
            stamp_duty=round_charge(turnover * stamp_rate, self.unit),
            gst=round_charge((brokerage + exchange + sebi) * self.gst_rate, self.unit),
        )

    def _order_brokerage(self, intraday: bool, turnover: Decimal) -> Decimal:
        rate = self.intraday_brokerage_rate if intraday else self.delivery_brokerage_rate
        cap = self.intraday_brokerage_cap if intraday else self.delivery_brokerage_cap
        amount = turnover * rate
        if cap is not None:
            amount = min(amount, cap)
        return round_charge(amount, self.unit)


class CryptoFeeSchedule(BaseModel):
    """A flat percentage of turnover per fill (both sides), with optional GST on the fee.

    Exchanges charge the exact fee in the quote asset to 8 decimals, however small the
    trade (0.1% of 0.95 USDT is 0.00095 USDT), so that is the default unit.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fee_rate: Decimal = Field(Decimal("0.001"), ge=0, le=1)
    gst_rate: Decimal = Field(ZERO, ge=0, le=1)
    unit: Decimal = Field(SATOSHI, gt=0, description="smallest amount charged")

    def charges(
        self,
        side: Side,
        product: Product,
        quantity: Decimal,
        price: Decimal,
        order_turnover_before: Decimal = ZERO,
    ) -> ChargeBreakdown:
        """Charges of one fill: the fee is reported as brokerage."""
        fee = round_charge(quantity * price * self.fee_rate, self.unit)
        return ChargeBreakdown(brokerage=fee, gst=round_charge(fee * self.gst_rate, self.unit))


class NoCharges:
    """A fee model that charges nothing (for tests and frictionless backtests)."""

    def charges(
        self,
        side: Side,
        product: Product,
        quantity: Decimal,
        price: Decimal,
        order_turnover_before: Decimal = ZERO,
    ) -> ChargeBreakdown:
        return ChargeBreakdown()


def charges_for_fill(model: FeeModel, fill: Fill) -> ChargeBreakdown:
    """Price ``fill`` with ``model``."""
    return model.charges(
        fill.side, fill.product, fill.quantity, fill.price, fill.order_turnover_before
    )

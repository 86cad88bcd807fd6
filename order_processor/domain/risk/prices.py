"""Checks on the order's own numbers: NSE quantity freeze and the fat-finger price band."""

from __future__ import annotations

from decimal import Decimal

from ..orders import Order
from .base import AccountView, BaseCheck, Decision


class FreezeQuantityCheck(BaseCheck):
    """The quantity is within the exchange's freeze limit for the instrument (if it has one)."""

    name = "freeze_quantity"

    def check(self, order: Order, view: AccountView) -> Decision:
        freeze = view.instrument.freeze_qty
        if freeze is not None and order.quantity > freeze:
            return self.deny(
                "freeze_quantity_exceeded",
                f"quantity {order.quantity} is above "
                f"the freeze quantity {freeze} of {order.symbol}",
            )
        return self.ok()


class PriceBandCheck(BaseCheck):
    """Limit and trigger prices lie within ``band`` (a fraction) of the last traded price."""

    name = "price_band"

    def __init__(self, band: Decimal = Decimal("0.05")) -> None:
        self.band = band

    def check(self, order: Order, view: AccountView) -> Decision:
        prices = [
            (n, p)
            for n, p in (("limit", order.limit_price), ("trigger", order.trigger_price))
            if p is not None
        ]
        if not prices:
            return self.ok("no limit or trigger price to check")
        last = view.last_price(order.symbol)
        if last is None or last <= 0:
            return self.deny(
                "no_reference_price",
                f"no last price for {order.symbol} to check the order's price against",
            )
        for label, price in prices:
            if abs(price - last) > self.band * last:
                return self.deny(
                    "price_band_exceeded",
                    f"{label} price {price} is more than "
                    f"{self.band:%} away from the last price {last}",
                )
        return self.ok()

"""The instrument a backtest trades and the charges it pays: the live catalog's, when it has one."""

from __future__ import annotations

from decimal import Decimal

from order_processor.catalog import TradingCatalog
from order_processor.domain.charges import FeeModel, NoCharges
from shared.instruments import AssetClass, Instrument, InstrumentCatalog, load_catalog

GENERIC_EXCHANGE = "OTHER"
"""Exchange of a symbol the catalog does not know: traded around the clock, tick 0.01, lot 1."""


def generic_instrument(symbol: str) -> Instrument:
    """An instrument for a symbol outside the catalog (charges off: its venue is unknown)."""
    return Instrument(
        symbol=symbol,
        name=symbol,
        exchange=GENERIC_EXCHANGE,
        asset_class=AssetClass.CRYPTO,
        currency="",
        sector="",
        tick_size=Decimal("0.01"),
        lot_size=Decimal(1),
        freeze_qty=None,
        ref_price=Decimal(0),
        daily_vol=0.0,
    )


def market_for(
    symbol: str, catalog: InstrumentCatalog | None = None
) -> tuple[Instrument, FeeModel]:
    """The catalog's instrument and the live fee model of ``symbol``, or a generic one."""
    trading = TradingCatalog(catalog if catalog is not None else load_catalog())
    if symbol in trading:
        return trading.instrument(symbol), trading.fee_model(symbol)
    return generic_instrument(symbol), NoCharges()

"""The instrument catalog as the order processor sees it: shared instruments and fee models."""

from __future__ import annotations

from order_processor.domain.charges import ChargeSchedule, CryptoFeeSchedule, FeeModel, NoCharges
from shared.instruments import AssetClass, Instrument, InstrumentCatalog, load_catalog

_NSE_CHARGES = ChargeSchedule()
_CRYPTO_FEES = CryptoFeeSchedule()
_NO_CHARGES = NoCharges()


class TradingCatalog:
    """Looks symbols up in the shared catalog; unknown symbols raise ``UnknownInstrument`` (404)."""

    def __init__(self, catalog: InstrumentCatalog | None = None) -> None:
        self.catalog = catalog if catalog is not None else load_catalog()

    def instrument(self, symbol: str) -> Instrument:
        """The instrument of ``symbol`` (lot, tick, freeze quantity, sector, exchange)."""
        return self.catalog.get(symbol)

    def currency(self, symbol: str) -> str:
        """The currency ``symbol`` is quoted in (INR, USDT, USD)."""
        return self.catalog.get(symbol).currency

    def fee_model(self, symbol: str) -> FeeModel:
        """NSE equity charges, a flat crypto fee, or nothing (US equities are not modelled)."""
        src = self.catalog.get(symbol)
        if src.exchange in ("NSE", "BSE"):
            return _NSE_CHARGES
        if src.asset_class is AssetClass.CRYPTO:
            return _CRYPTO_FEES
        return _NO_CHARGES

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.catalog


DEFAULT_CATALOG: TradingCatalog | None = None


def default_catalog() -> TradingCatalog:
    """One catalog per process, built on first use."""
    global DEFAULT_CATALOG
    if DEFAULT_CATALOG is None:
        DEFAULT_CATALOG = TradingCatalog()
    return DEFAULT_CATALOG

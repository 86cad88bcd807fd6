"""The instrument catalog: what can be traded, where, on which price grid and in what lots.

The catalog is a CSV file kept in the repository (``shared/data/instruments.csv``);
its columns and sources are described in ``docs/market-data-feeds.md``.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Literal

import numpy as np

from shared.calendar import Calendar, calendar_for
from shared.errors import NotFound

DEFAULT_CATALOG_PATH = Path(__file__).resolve().parent / "data" / "instruments.csv"

_REQUIRED_COLUMNS = (
    "symbol",
    "name",
    "exchange",
    "asset_class",
    "currency",
    "sector",
    "tick_size",
    "lot_size",
    "freeze_qty",
    "ref_price",
    "daily_vol",
)


class AssetClass(StrEnum):
    EQUITY = "equity"
    CRYPTO = "crypto"


class UnknownInstrument(NotFound, KeyError):
    """A symbol that is not in the catalog (a 404 at the API edge, a KeyError to Python code)."""

    code = "unknown_instrument"

    def __init__(self, symbol: str) -> None:
        super().__init__(f"unknown instrument {symbol!r}")
        self.symbol = symbol

    def __str__(self) -> str:
        # KeyError would render the repr of the message; keep the plain text.
        return self.message


class CatalogError(ValueError):
    """The catalog file is malformed (a bad row, a duplicate symbol, a missing column)."""


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable instrument and its trading parameters.

    The platform's only instrument type: the market data engine, the strategy workers,
    the gateway and the order processor's domain all use it. ``sector`` is ``""`` where
    the catalog has none; ``freeze_qty`` is ``None`` where the exchange sets no limit.
    """

    symbol: str
    name: str
    exchange: str
    asset_class: AssetClass
    currency: str
    sector: str
    tick_size: Decimal
    lot_size: Decimal
    freeze_qty: int | None
    ref_price: Decimal
    daily_vol: float
    indices: tuple[str, ...] = ()

    def round_price(self, price: Decimal | float | str) -> Decimal:
        """``price`` rounded to the nearest point on this instrument's tick grid."""
        return round_to_tick(price, self.tick_size)

    def is_on_grid(self, price: Decimal | float | str) -> bool:
        """Whether ``price`` is an exact multiple of the tick size."""
        return Decimal(str(price)) % self.tick_size == 0

    def calendar(self) -> Calendar:
        """The calendar of the exchange this instrument trades on."""
        return calendar_for(self.exchange)


TickRounding = Literal["nearest", "up", "down"]
"""How ``round_to_tick`` picks a grid point: see its docstring."""

_ROUNDING = {"nearest": ROUND_HALF_EVEN, "up": ROUND_CEILING, "down": ROUND_FLOOR}


def round_to_tick(
    price: Decimal | float | str, tick_size: Decimal, direction: TickRounding = "nearest"
) -> Decimal:
    """``price`` on the grid of multiples of ``tick_size``: the platform's one rounding rule.

    - ``"nearest"`` (the default): the closest multiple; an exact half tick goes to the
      even multiple (banker's rounding: 100.025 -> 100.00, 100.075 -> 100.10 on a 0.05
      grid), so rounding many prices adds no bias. ``snap_to_grid`` rounds float market
      data the same way.
    - ``"up"``: the smallest multiple >= ``price`` (towards +infinity, also when negative).
    - ``"down"``: the largest multiple <= ``price`` (towards -infinity).

    A multiple of the tick comes back unchanged in every direction. The rule knows no
    side: a caller that rounds a modelled price against the trader asks for ``"up"`` on
    a buy and ``"down"`` on a sell (the paper fill model's slipped market fills). The
    result carries the tick's decimal places (``100`` on a 0.05 grid is ``100.00``).
    """
    # str() so a float like 0.1 is read as written, not as its binary value
    value = price if isinstance(price, Decimal) else Decimal(str(price))
    steps = (value / tick_size).quantize(Decimal(1), rounding=_ROUNDING[direction])
    return (steps * tick_size).quantize(tick_size)


def snap_to_grid(prices: np.ndarray, tick_sizes: np.ndarray | float) -> np.ndarray:
    """Float prices rounded to their tick grids, as the closest doubles to the decimal values."""
    ticks = np.asarray(tick_sizes, dtype=np.float64)
    # Rounding to 10 decimals turns k*0.05 = 1234.0500000000002 into the double nearest 1234.05,
    # so str() and Decimal(str()) of the result read as the exchange would print it.
    return np.round(np.rint(prices / ticks) * ticks, 10)


class InstrumentCatalog:
    """All known instruments, looked up by symbol (symbols are unique across exchanges)."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        for inst in instruments:
            if inst.symbol in self._by_symbol:
                raise CatalogError(f"duplicate symbol {inst.symbol!r}")
            self._by_symbol[inst.symbol] = inst
        self._calendars: dict[str, Calendar] = {}
        self._tick_floats = {s: float(i.tick_size) for s, i in self._by_symbol.items()}

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_symbol.values())

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def get(self, symbol: str) -> Instrument:
        """The instrument for ``symbol``; raises ``UnknownInstrument`` if there is none."""
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise UnknownInstrument(symbol) from None

    def all(self) -> list[Instrument]:
        """Every instrument, in file order."""
        return list(self._by_symbol.values())

    def symbols(self, exchange: str | None = None) -> list[str]:
        """Symbols, optionally of one exchange, sorted."""
        ex = exchange.upper() if exchange else None
        return sorted(s for s, i in self._by_symbol.items() if ex is None or i.exchange == ex)

    def tick_sizes(self) -> dict[str, float]:
        """Tick size of each symbol as a float, for vectorised market-data checks."""
        return dict(self._tick_floats)

    def calendar(self, symbol: str) -> Calendar:
        """The trading calendar of ``symbol``'s exchange (one shared object per exchange)."""
        exchange = self.get(symbol).exchange
        cal = self._calendars.get(exchange)
        if cal is None:
            cal = self._calendars[exchange] = calendar_for(exchange)
        return cal

    def search(
        self,
        query: str,
        exchange: str | None = None,
        sector: str | None = None,
        limit: int = 20,
    ) -> list[Instrument]:
        """Instruments whose symbol or name contains ``query`` (case-insensitive), best first.

        Ranking: exact symbol, symbol prefix, name (or name word) prefix, then any substring;
        ties are broken by symbol. An empty query lists everything that passes the filters.
        """
        q = query.strip().casefold()
        ex = exchange.upper() if exchange else None
        sec = sector.casefold() if sector else None
        ranked: list[tuple[int, str, Instrument]] = []
        for inst in self._by_symbol.values():
            if ex is not None and inst.exchange != ex:
                continue
            if sec is not None and inst.sector.casefold() != sec:
                continue
            rank = _match_rank(inst, q)
            if rank is not None:
                ranked.append((rank, inst.symbol, inst))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [r[2] for r in ranked[: max(0, limit)]]


def _match_rank(inst: Instrument, q: str) -> int | None:
    if not q:
        return 0
    sym = inst.symbol.casefold()
    name = inst.name.casefold()
    if sym == q:
        return 0
    if sym.startswith(q):
        return 1
    if name.startswith(q) or any(w.startswith(q) for w in name.split()):
        return 2
    if q in sym or q in name:
        return 3
    return None


def load_catalog(path: str | Path | None = None) -> InstrumentCatalog:
    """The catalog in ``path``, or the repository's catalog (loaded once and cached)."""
    if path is None:
        return _default_catalog()
    return InstrumentCatalog(read_instruments(Path(path)))


@functools.cache
def _default_catalog() -> InstrumentCatalog:
    return InstrumentCatalog(read_instruments(DEFAULT_CATALOG_PATH))


def read_instruments(path: Path) -> list[Instrument]:
    """Parse and check every row of a catalog CSV file."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogError(f"{path}: missing columns {missing}")
        return [_parse_row(row, path, n) for n, row in enumerate(reader, start=2)]


def _parse_row(row: dict[str, str], path: Path, line: int) -> Instrument:
    try:
        tick = Decimal(row["tick_size"])
        lot = Decimal(row["lot_size"])
        ref = Decimal(row["ref_price"])
        freeze = row["freeze_qty"].strip()
        inst = Instrument(
            symbol=row["symbol"].strip(),
            name=row["name"].strip(),
            exchange=row["exchange"].strip().upper(),
            asset_class=AssetClass(row["asset_class"].strip().lower()),
            currency=row["currency"].strip().upper(),
            sector=row["sector"].strip(),
            tick_size=tick,
            lot_size=lot,
            freeze_qty=int(freeze) if freeze else None,
            ref_price=ref,
            daily_vol=float(row["daily_vol"]),
            indices=tuple(x for x in (row.get("indices") or "").split(";") if x),
        )
    except (InvalidOperation, ValueError, KeyError) as exc:
        raise CatalogError(f"{path}:{line}: {exc}") from exc
    if not inst.symbol or tick <= 0 or lot <= 0 or ref <= 0 or not inst.daily_vol > 0:
        raise CatalogError(f"{path}:{line}: symbol, tick, lot, price and vol must be set")
    if not inst.is_on_grid(ref):
        raise CatalogError(f"{path}:{line}: ref_price {ref} is not a multiple of {tick}")
    return inst

"""The instrument catalog: contents of the shipped file, lookups, search and tick rounding."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from shared.calendar import AlwaysOpenCalendar, NSECalendar, USEquityCalendar
from shared.errors import NotFound
from shared.instruments import (
    AssetClass,
    CatalogError,
    InstrumentCatalog,
    UnknownInstrument,
    load_catalog,
    round_to_tick,
    snap_to_grid,
)

HEADER = (
    "symbol,name,exchange,asset_class,currency,sector,tick_size,lot_size,freeze_qty,"
    "ref_price,daily_vol,indices\n"
)


@pytest.fixture(scope="module")
def catalog() -> InstrumentCatalog:
    return load_catalog()


def write_catalog(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "instruments.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_default_catalog_has_fifty_nifty_constituents_with_sectors(catalog):
    nifty = [i for i in catalog.all() if "NIFTY50" in i.indices]

    assert len(nifty) == 50
    assert all(i.exchange == "NSE" and i.currency == "INR" and i.sector for i in nifty)


def test_nse_cash_equities_trade_in_single_shares_on_a_five_or_one_paisa_grid(catalog):
    nse = [catalog.get(s) for s in catalog.symbols("NSE")]

    assert {i.lot_size for i in nse} == {Decimal(1)}
    assert {i.tick_size for i in nse} <= {Decimal("0.05"), Decimal("0.01")}


def test_one_paisa_ticks_only_for_nse_stocks_priced_below_250(catalog):
    nse = [catalog.get(s) for s in catalog.symbols("NSE")]

    for inst in nse:
        expected = Decimal("0.01") if inst.ref_price < 250 else Decimal("0.05")
        assert inst.tick_size == expected, inst.symbol


def test_crypto_pairs_are_quoted_in_usdt_on_binance(catalog):
    pairs = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"]

    insts = [catalog.get(s) for s in pairs]

    assert all(i.exchange == "BINANCE" and i.currency == "USDT" for i in insts)
    assert all(i.asset_class is AssetClass.CRYPTO for i in insts)


def test_every_reference_price_sits_on_its_tick_grid(catalog):
    assert all(i.is_on_grid(i.ref_price) for i in catalog)


def test_default_catalog_is_loaded_once():
    assert load_catalog() is load_catalog()


def test_unknown_symbol_raises_unknown_instrument_that_is_a_key_error_and_a_404(catalog):
    with pytest.raises(UnknownInstrument) as err:
        catalog.get("NOSUCH")

    assert isinstance(err.value, KeyError)
    assert isinstance(err.value, NotFound)
    assert "NOSUCH" in str(err.value)


def test_membership_test_uses_symbols(catalog):
    assert "RELIANCE" in catalog
    assert "reliance" not in catalog


def test_symbols_filter_by_exchange_case_insensitively(catalog):
    crypto = catalog.symbols("binance")

    assert crypto == sorted(crypto)
    assert set(crypto) == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"}


def test_search_ranks_exact_symbol_before_prefix_and_name_matches(catalog):
    results = [i.symbol for i in catalog.search("tcs")]

    assert results[0] == "TCS"


def test_search_matches_company_names_case_insensitively(catalog):
    results = [i.symbol for i in catalog.search("infosys")]

    assert results == ["INFY"]


def test_search_filters_by_exchange_and_sector(catalog):
    results = catalog.search("", exchange="NSE", sector="information technology", limit=100)

    assert {i.symbol for i in results} == {"HCLTECH", "INFY", "TCS", "TECHM", "WIPRO"}


def test_search_respects_limit(catalog):
    assert len(catalog.search("", limit=3)) == 3


def test_search_with_no_match_returns_nothing(catalog):
    assert catalog.search("zzzz-no-such") == []


def test_calendar_is_nse_for_nse_symbols_us_for_nasdaq_and_always_open_for_crypto(catalog):
    assert isinstance(catalog.calendar("INFY"), NSECalendar)
    assert isinstance(catalog.calendar("AAPL"), USEquityCalendar)
    assert isinstance(catalog.calendar("BTCUSDT"), AlwaysOpenCalendar)


def test_round_price_snaps_to_the_nearest_tick(catalog):
    assert catalog.get("INFY").round_price(1550.03) == Decimal("1550.05")
    assert catalog.get("INFY").round_price("1550.02") == Decimal("1550.00")
    assert catalog.get("XRPUSDT").round_price("2.20004") == Decimal("2.2000")


@pytest.mark.parametrize(
    ("price", "direction", "expected"),
    [
        # nearest: an exact half tick goes to the even multiple (banker's rounding)
        ("100.025", "nearest", "100.00"),
        ("100.075", "nearest", "100.10"),
        ("100.026", "nearest", "100.05"),
        ("100.024", "nearest", "100.00"),
        ("-100.025", "nearest", "-100.00"),
        ("-100.075", "nearest", "-100.10"),
        # up: towards +infinity; down: towards -infinity, also below zero
        ("100.001", "up", "100.05"),
        ("100.049", "down", "100.00"),
        ("-100.001", "up", "-100.00"),
        ("-100.001", "down", "-100.05"),
        ("100.025", "up", "100.05"),
        ("100.025", "down", "100.00"),
    ],
)
def test_round_to_tick_follows_the_documented_rule(price, direction, expected):
    assert round_to_tick(Decimal(price), Decimal("0.05"), direction) == Decimal(expected)


@pytest.mark.parametrize("direction", ["nearest", "up", "down"])
@pytest.mark.parametrize("price", ["100.05", "100", "0", "-2.10"])
def test_round_to_tick_leaves_exact_multiples_unchanged(price, direction):
    rounded = round_to_tick(Decimal(price), Decimal("0.05"), direction)

    assert rounded == Decimal(price)
    assert rounded.as_tuple().exponent == -2  # written with the tick's decimal places


def test_round_to_tick_reads_floats_as_written():
    # 100.025 as a double is 100.02499999999999147...; read as written it is an exact half
    assert round_to_tick(100.025, Decimal("0.05")) == Decimal("100.00")
    assert round_to_tick(100.075, Decimal("0.05")) == Decimal("100.10")


def test_snap_to_grid_returns_doubles_that_print_as_exchange_prices():
    import numpy as np

    snapped = snap_to_grid(np.array([1234.04, 0.1 + 0.2, 95000.014]), np.array([0.05, 0.01, 0.01]))

    assert [str(x) for x in snapped] == ["1234.05", "0.3", "95000.01"]


def test_loading_a_file_with_a_duplicate_symbol_fails(tmp_path):
    row = "ABC,Abc Ltd,NSE,equity,INR,Power,0.05,1,,100.00,0.01,"
    path = write_catalog(tmp_path, row, row)

    with pytest.raises(CatalogError, match="duplicate"):
        load_catalog(path)


def test_loading_a_file_with_an_off_grid_reference_price_fails(tmp_path):
    path = write_catalog(tmp_path, "ABC,Abc Ltd,NSE,equity,INR,Power,0.05,1,,100.03,0.01,")

    with pytest.raises(CatalogError, match="multiple"):
        load_catalog(path)


def test_freeze_quantity_is_optional_and_parsed_when_present(tmp_path):
    path = write_catalog(
        tmp_path,
        "ABC,Abc Ltd,NSE,equity,INR,Power,0.05,1,5000,100.00,0.01,",
        "XYZ,Xyz Ltd,NSE,equity,INR,Power,0.05,1,,100.00,0.01,",
    )

    cat = load_catalog(path)

    assert cat.get("ABC").freeze_qty == 5000
    assert cat.get("XYZ").freeze_qty is None

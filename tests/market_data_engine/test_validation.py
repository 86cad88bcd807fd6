"""Tick validation: each reason drops and counts the bad tick and keeps the good ones."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import numpy as np
import pytest

from market_data_engine.ticks import TickBatch
from market_data_engine.validation import RejectReason, TickValidator, validate_ticks
from shared.instruments import load_catalog

NOW = datetime(2025, 11, 21, 4, 0, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 1_000_000_000


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def batch(*ticks: tuple[str, int, float, float]) -> TickBatch:
    sym, ts, price, qty = zip(*ticks, strict=True)
    return TickBatch(
        np.array(sym, dtype=object),
        np.array(ts, dtype=np.int64),
        np.array(price, dtype=np.float64),
        np.array(qty, dtype=np.float64),
    )


GOOD = ("INFY", NOW_NS - 1_000_000, 1550.05, 10.0)


def test_valid_ticks_pass_unchanged(catalog):
    ticks = batch(GOOD, ("BTCUSDT", NOW_NS, 95000.01, 0.0012), ("TATASTEEL", NOW_NS, 170.01, 1))

    valid, rejected = validate_ticks(ticks, catalog, NOW)

    assert rejected == {}
    assert len(valid) == 3


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (("NOSUCH", NOW_NS, 10.0, 1.0), RejectReason.UNKNOWN_SYMBOL),
        (("INFY", NOW_NS, 0.0, 1.0), RejectReason.BAD_PRICE),
        (("INFY", NOW_NS, -1550.05, 1.0), RejectReason.BAD_PRICE),
        (("INFY", NOW_NS, float("nan"), 1.0), RejectReason.BAD_PRICE),
        (("INFY", NOW_NS, float("inf"), 1.0), RejectReason.BAD_PRICE),
        (("INFY", NOW_NS, 1550.03, 1.0), RejectReason.OFF_TICK_GRID),
        (("TATASTEEL", NOW_NS, 170.005, 1.0), RejectReason.OFF_TICK_GRID),
        (("INFY", NOW_NS, 1550.05, -1.0), RejectReason.BAD_QTY),
        (("INFY", NOW_NS, 1550.05, float("nan")), RejectReason.BAD_QTY),
        (("INFY", 1_700_000_000_000, 1550.05, 1.0), RejectReason.TS_TOO_OLD),  # ms read as ns
        (("INFY", NOW_NS + 6_000_000_000, 1550.05, 1.0), RejectReason.TS_IN_FUTURE),
    ],
)
def test_bad_tick_is_dropped_and_counted_under_its_reason(catalog, bad, reason):
    valid, rejected = validate_ticks(batch(GOOD, bad, GOOD), catalog, NOW)

    assert rejected == {reason: 1}
    assert valid.symbol.tolist() == ["INFY", "INFY"]
    assert valid.price.tolist() == [1550.05, 1550.05]


def test_tick_within_the_allowed_clock_skew_is_kept(catalog):
    ahead = ("INFY", NOW_NS + 4_000_000_000, 1550.05, 1.0)

    _, rejected = validate_ticks(batch(ahead), catalog, NOW, max_ahead_s=5.0)

    assert rejected == {}


def test_allowed_clock_skew_is_configurable(catalog):
    ahead = ("INFY", NOW_NS + 2_000_000_000, 1550.05, 1.0)

    _, rejected = validate_ticks(batch(ahead), catalog, NOW, max_ahead_s=1.0)

    assert rejected == {RejectReason.TS_IN_FUTURE: 1}


def test_float_noise_on_a_grid_price_is_tolerated(catalog):
    noisy = ("INFY", NOW_NS, 1550.05 * (1 + 1e-15), 1.0)

    _, rejected = validate_ticks(batch(noisy), catalog, NOW)

    assert rejected == {}


def test_a_tick_failing_several_checks_is_counted_once_under_the_first(catalog):
    _, rejected = validate_ticks(batch(("INFY", 5, -3.0, -1.0)), catalog, NOW)

    assert rejected == {RejectReason.BAD_PRICE: 1}


def test_empty_batch_is_returned_as_is(catalog):
    valid, rejected = validate_ticks(TickBatch.empty(), catalog, NOW)

    assert len(valid) == 0
    assert rejected == {}


def test_validator_keeps_running_totals_across_batches(catalog):
    validator = TickValidator(catalog)
    bad = ("INFY", NOW_NS, 1550.03, 1.0)

    validator.validate(batch(bad, GOOD), NOW)
    validator.validate(batch(bad, bad), NOW)

    assert validator.totals[RejectReason.OFF_TICK_GRID] == 3


def test_many_bad_ticks_in_a_batch_log_one_line(catalog, caplog):
    validator = TickValidator(catalog)
    many = batch(*([("INFY", NOW_NS, 1550.03, 1.0)] * 500 + [("NOSUCH", NOW_NS, 1.0, 1.0)] * 5))

    with caplog.at_level(logging.WARNING, logger="market_data_engine.validation"):
        validator.validate(many, NOW)

    assert len(caplog.records) == 1
    assert "off_tick_grid=500" in caplog.messages[0]
    assert "unknown_symbol=5" in caplog.messages[0]


def test_log_is_rate_limited_but_counts_are_carried_into_the_next_line(catalog, caplog):
    validator = TickValidator(catalog, log_interval_s=3600)
    bad = batch(("INFY", NOW_NS, 1550.03, 1.0))

    with caplog.at_level(logging.WARNING, logger="market_data_engine.validation"):
        for _ in range(5):
            validator.validate(bad, NOW)
        validator.log_interval_s = 0
        validator.validate(bad, NOW)

    assert len(caplog.records) == 2
    assert "off_tick_grid=5" in caplog.messages[1]

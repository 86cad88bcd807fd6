"""Round trips from fills (scale in and out, flips, products apart) and their statistics."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from analytics_service.metrics.trades import round_trips, sqn, trade_stats
from shared.contracts import Side

from .builders import fill

T0 = datetime(2025, 6, 10, 4, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_long_round_trip_nets_its_charges():
    trips = round_trips(
        [fill(at(0), "BUY", 10, 100, charges="1.5"), fill(at(30), "SELL", 10, 103, charges="2")]
    )
    [trip] = trips.closed
    assert trip.side is Side.BUY
    assert (trip.entry_price, trip.exit_price, trip.quantity) == (100, 103, 10)
    assert trip.gross_pnl == Decimal(30)
    assert trip.charges == Decimal("3.5")
    assert trip.net_pnl == Decimal("26.5")
    assert trip.holding_seconds == 1800
    assert trips.open == []


def test_a_short_round_trip_gains_when_the_price_falls():
    [trip] = round_trips([fill(at(0), "SELL", 5, 200), fill(at(5), "BUY", 5, 190)]).closed
    assert trip.side is Side.SELL
    assert trip.gross_pnl == Decimal(50)


def test_scaling_in_and_out_is_one_trip_with_volume_weighted_prices():
    [trip] = round_trips(
        [
            fill(at(0), "BUY", 10, 100),
            fill(at(1), "BUY", 10, 110),
            fill(at(2), "SELL", 5, 120),
            fill(at(3), "SELL", 15, 100),
        ]
    ).closed
    assert trip.quantity == 20
    assert trip.entry_price == Decimal(105)
    assert trip.exit_price == Decimal(105)
    assert trip.gross_pnl == Decimal(0)
    assert trip.fills == 4


def test_a_fill_through_flat_closes_one_trip_and_opens_the_next_with_the_rest():
    trips = round_trips(
        [fill(at(0), "BUY", 5, 100, charges=1), fill(at(1), "SELL", 8, 110, charges="8")]
    )
    [closed] = trips.closed
    [reopened] = trips.open
    assert closed.gross_pnl == Decimal(50)
    assert closed.charges == Decimal(6)  # 1 + 5/8 of 8
    assert reopened.side is Side.SELL
    assert reopened.quantity == 3
    assert reopened.charges == Decimal(3)
    assert reopened.exit_time is None


def test_products_and_accounts_are_separate_trips():
    trips = round_trips(
        [
            fill(at(0), "BUY", 1, 100, product="MIS"),
            fill(at(1), "BUY", 1, 100, product="CNC"),
            fill(at(2), "SELL", 1, 101, product="MIS"),
            fill(at(3), "BUY", 1, 100, account_id=2),
        ]
    )
    assert [(t.product, t.account_id) for t in trips.closed] == [("MIS", 1)]
    assert sorted((t.product, t.account_id) for t in trips.open) == [("CNC", 1), ("MIS", 2)]


def test_trade_statistics_on_net_pnl():
    fills = []
    for i, exit_price in enumerate([110, 95, 120, 100, 90]):
        fills += [fill(at(10 * i), "BUY", 1, 100), fill(at(10 * i + 4), "SELL", 1, exit_price)]
    trips = round_trips(fills).closed
    stats = trade_stats(trips)
    assert (stats.count, stats.wins, stats.losses, stats.breakeven) == (5, 2, 2, 1)
    assert stats.win_rate == 0.4
    assert stats.gross_profit == Decimal(30)
    assert stats.gross_loss == Decimal(-15)
    assert stats.profit_factor == 2.0
    assert stats.average_win == Decimal(15)
    assert stats.average_loss == Decimal("-7.5")
    assert stats.expectancy == Decimal(3)
    assert stats.best is not None and stats.best.net_pnl == 20
    assert stats.worst is not None and stats.worst.net_pnl == -10
    assert stats.average_holding_seconds == 240
    pnl = [10.0, -5.0, 20.0, 0.0, -10.0]
    expected = math.sqrt(5) * (sum(pnl) / 5) / float(__import__("numpy").std(pnl, ddof=1))
    assert stats.sqn is not None and math.isclose(stats.sqn, expected)
    assert stats.few_trades


def test_no_trades_leaves_ratios_undefined():
    stats = trade_stats([])
    assert stats.count == 0
    assert stats.win_rate is None and stats.profit_factor is None and stats.expectancy is None
    assert stats.sqn is None and stats.best is None


def test_sqn_needs_two_trades_with_some_spread():
    assert math.isnan(sqn([5.0]))
    assert math.isnan(sqn([5.0, 5.0]))

"""Focused behaviours of the candle engine: alignment, closing, late ticks, order, views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from market_data_engine.candles import CandleEngine, _candles
from market_data_engine.candles._late import NO_TIME, prior_max_by_symbol
from market_data_engine.candles._symbols import SymbolRegistry
from market_data_engine.ticks import TickBatch
from shared.calendar import IST, AlwaysOpenCalendar, NSECalendar, USEquityCalendar, calendar_for
from shared.contracts import CandleMsg, Timeframe, candle_channel

NSE = NSECalendar()
CRYPTO = AlwaysOpenCalendar()
CALENDARS = {"INFY": NSE, "TCS": NSE, "BTCUSDT": CRYPTO}
MONDAY = datetime(2024, 6, 10, tzinfo=IST)  # an NSE trading day
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ist(hh: int, mm: int, ss: float = 0.0) -> datetime:
    return MONDAY.replace(hour=hh, minute=mm) + timedelta(seconds=ss)


def batch(*ticks: tuple[str, datetime, float] | tuple[str, datetime, float, float]) -> TickBatch:
    return TickBatch(
        np.array([t[0] for t in ticks], dtype=object),
        np.array([(t[1] - EPOCH) // timedelta(microseconds=1) * 1000 for t in ticks], np.int64),
        np.array([t[2] for t in ticks], dtype=np.float64),
        np.array([t[3] if len(t) > 3 else 1.0 for t in ticks], dtype=np.float64),
    )


def engine(**kwargs) -> CandleEngine:
    return CandleEngine(CALENDARS, **kwargs)


def of(candles, tf: Timeframe):
    return [c for c in candles if c.timeframe == tf]


def test_nse_hourly_buckets_start_at_0915_and_the_last_ends_at_the_close() -> None:
    eng = engine()
    closed = eng.ingest(
        batch(("INFY", ist(9, 15), 1), ("INFY", ist(10, 14, 59), 2), ("INFY", ist(10, 15), 3))
    )
    closed += eng.ingest(batch(("INFY", ist(15, 29, 59), 4)))
    closed += eng.on_timer(ist(16, 0))

    hourly = of(closed, Timeframe.H1)

    assert [(c.start.astimezone(IST).time(), c.end.astimezone(IST).time()) for c in hourly] == [
        (ist(9, 15).time(), ist(10, 15).time()),
        (ist(10, 15).time(), ist(11, 15).time()),
        (ist(15, 15).time(), ist(15, 30).time()),
    ]
    assert [c.trades for c in hourly] == [2, 1, 1]


def test_nse_five_and_fifteen_minute_buckets_are_aligned_to_the_open() -> None:
    eng = engine()
    closed = eng.ingest(
        batch(("INFY", ist(9, 19, 59), 1), ("INFY", ist(9, 20), 2), ("INFY", ist(9, 31), 3))
    )
    closed += eng.on_timer(ist(10, 0))

    assert [c.start.astimezone(IST).time() for c in of(closed, Timeframe.M5)] == [
        ist(9, 15).time(),
        ist(9, 20).time(),
        ist(9, 30).time(),
    ]
    assert [c.start.astimezone(IST).time() for c in of(closed, Timeframe.M15)] == [
        ist(9, 15).time(),
        ist(9, 30).time(),
    ]


def test_daily_candle_is_the_nse_session() -> None:
    eng = engine()
    eng.ingest(batch(("INFY", ist(9, 15), 10), ("INFY", ist(12, 0), 30), ("INFY", ist(15, 29), 20)))

    (daily,) = of(eng.on_timer(ist(15, 30, 2)), Timeframe.D1)

    assert (daily.start, daily.end) == (ist(9, 15), ist(15, 30))
    assert (daily.open, daily.high, daily.low, daily.close) == (10, 30, 10, 20)


def test_crypto_buckets_are_utc_aligned_around_the_clock() -> None:
    eng = engine()
    late_evening = datetime(2024, 6, 10, 23, 30, 5, tzinfo=UTC)
    closed = eng.ingest(
        batch(("BTCUSDT", late_evening, 1), ("BTCUSDT", late_evening + timedelta(hours=1), 2))
    )
    closed += eng.on_timer(datetime(2024, 6, 12, 1, tzinfo=UTC))

    assert [c.start for c in of(closed, Timeframe.H1)] == [
        datetime(2024, 6, 10, 23, tzinfo=UTC),
        datetime(2024, 6, 11, 0, tzinfo=UTC),
    ]
    assert [(c.start, c.end) for c in of(closed, Timeframe.D1)] == [
        (datetime(2024, 6, 10, tzinfo=UTC), datetime(2024, 6, 11, tzinfo=UTC)),
        (datetime(2024, 6, 11, tzinfo=UTC), datetime(2024, 6, 12, tzinfo=UTC)),
    ]


def test_nse_ticks_outside_the_session_are_counted_and_not_candled() -> None:
    eng = engine()
    saturday = datetime(2024, 6, 15, 11, 0, tzinfo=IST)
    eng.ingest(batch(("INFY", ist(9, 10), 1), ("INFY", ist(15, 31), 2), ("INFY", saturday, 3)))

    closed = eng.on_timer(saturday + timedelta(days=3))

    assert closed == []
    assert eng.stats("INFY").out_of_session == 3


def test_bucket_closes_when_a_tick_reaches_its_end_plus_grace() -> None:
    eng = engine(grace=timedelta(seconds=2))
    eng.ingest(batch(("INFY", ist(9, 15, 30), 1)))

    before = eng.ingest(batch(("INFY", ist(9, 16, 1.999), 2)))
    at = eng.ingest(batch(("INFY", ist(9, 16, 2), 3)))

    assert before == []
    assert [(c.timeframe, c.start) for c in at] == [(Timeframe.M1, ist(9, 15))]


def test_a_tick_of_another_symbol_does_not_close_a_bucket() -> None:
    eng = engine()
    eng.ingest(batch(("INFY", ist(9, 15, 30), 1)))

    closed = eng.ingest(batch(("TCS", ist(9, 20), 2)))

    assert [c.symbol for c in closed] == []


def test_timer_closes_buckets_of_a_quiet_feed_once_end_plus_grace_has_passed() -> None:
    eng = engine(grace=timedelta(seconds=2))
    eng.ingest(batch(("INFY", ist(9, 15, 30), 1)))

    early = eng.on_timer(ist(9, 16, 1))
    due = eng.on_timer(ist(9, 16, 2))

    assert early == []
    assert [(c.symbol, c.timeframe) for c in due] == [("INFY", Timeframe.M1)]


def test_out_of_order_tick_within_grace_is_merged_by_time() -> None:
    eng = engine(grace=timedelta(seconds=2))
    eng.ingest(batch(("INFY", ist(9, 15, 30), 2), ("INFY", ist(9, 16, 1), 9)))

    eng.ingest(batch(("INFY", ist(9, 15, 10), 1), ("INFY", ist(9, 15, 59), 3)))
    (m1,) = of(eng.on_timer(ist(9, 16, 2)), Timeframe.M1)

    assert (m1.open, m1.high, m1.low, m1.close, m1.trades) == (1, 3, 1, 3, 3)


def test_late_tick_beyond_grace_is_counted_and_never_merged() -> None:
    eng = engine(grace=timedelta(seconds=2))
    eng.ingest(batch(("INFY", ist(9, 15, 30), 5)))
    (closed,) = eng.ingest(batch(("INFY", ist(9, 16, 2), 6)))

    again = eng.ingest(batch(("INFY", ist(9, 15, 59), 100)))
    rest = eng.on_timer(ist(16, 0))

    assert again == []
    assert eng.stats("INFY").late == 1
    assert eng.recent("INFY", Timeframe.M1, 10)[0] == closed
    assert max(c.high for c in rest) == 6  # the late price reached no timeframe


def test_equal_timestamps_keep_arrival_order_for_open_and_close() -> None:
    eng = engine()
    t = ist(9, 15, 20)
    eng.ingest(batch(("INFY", t, 1), ("INFY", ist(9, 15, 40), 5), ("INFY", t, 2)))
    eng.ingest(batch(("INFY", ist(9, 15, 40), 6)))

    (m1,) = of(eng.on_timer(ist(9, 17)), Timeframe.M1)

    assert (m1.open, m1.close) == (1, 6)


def test_a_minute_without_ticks_has_no_candle() -> None:
    eng = engine()
    closed = eng.ingest(batch(("INFY", ist(9, 15, 5), 1), ("INFY", ist(9, 17, 5), 2)))
    closed = of(closed + eng.on_timer(ist(9, 30)), Timeframe.M1)

    assert [c.start for c in closed] == [ist(9, 15), ist(9, 17)]


def test_higher_timeframe_closes_on_time_even_when_its_last_minute_is_empty() -> None:
    eng = engine(grace=timedelta(seconds=2))
    eng.ingest(batch(("INFY", ist(9, 15, 5), 1)))

    closed = eng.ingest(batch(("INFY", ist(9, 20, 2), 2)))

    assert [(c.timeframe, c.start) for c in closed] == [
        (Timeframe.M1, ist(9, 15)),
        (Timeframe.M5, ist(9, 15)),
    ]


def test_higher_timeframe_is_the_roll_up_of_its_minutes() -> None:
    eng = engine()
    closed = eng.ingest(batch(*[("INFY", ist(9, 15, 20 * i), 100 + (i % 7), i) for i in range(15)]))
    closed += eng.on_timer(ist(9, 21))
    minutes, (m5,) = of(closed, Timeframe.M1), of(closed, Timeframe.M5)

    assert (m5.open, m5.close) == (minutes[0].open, minutes[-1].close)
    assert (m5.high, m5.low) == (max(c.high for c in minutes), min(c.low for c in minutes))
    assert (m5.volume, m5.trades) == (sum(c.volume for c in minutes), 15)


def test_closed_candles_come_sorted_by_end_symbol_and_timeframe() -> None:
    eng = engine()
    eng.ingest(
        batch(("TCS", ist(9, 19, 1), 1), ("INFY", ist(9, 18), 3), ("INFY", ist(9, 19, 1.5), 2))
    )

    closed = eng.on_timer(ist(9, 21))

    assert [(c.end, c.symbol, c.timeframe) for c in closed] == [
        (ist(9, 19), "INFY", Timeframe.M1),
        (ist(9, 20), "INFY", Timeframe.M1),
        (ist(9, 20), "INFY", Timeframe.M5),
        (ist(9, 20), "TCS", Timeframe.M1),
        (ist(9, 20), "TCS", Timeframe.M5),
    ]


def test_replaying_the_same_ticks_yields_the_same_candles() -> None:
    rng = np.random.default_rng(7)
    n = 2_000
    ts = ist(9, 15) + np.sort(rng.integers(0, 3_600_000, n)) * timedelta(milliseconds=1)
    ticks = [(str(rng.choice(["INFY", "TCS"])), t, float(rng.integers(1, 50))) for t in ts]

    def run(sizes: list[int]) -> list:
        eng, out, i = engine(), [], 0
        for size in sizes:
            out += eng.ingest(batch(*ticks[i : i + size]))
            i += size
        return out + eng.on_timer(ist(16, 0))

    first, again = run([500] * 4), run([500] * 4)
    other_split = run([1, 999, 300, 700])

    assert first == again
    assert sorted(first, key=repr) == sorted(other_split, key=repr)


def test_open_candle_shows_the_bucket_in_progress_for_every_timeframe() -> None:
    eng = engine()
    eng.ingest(
        batch(("INFY", ist(9, 15, 5), 1), ("INFY", ist(9, 16, 30), 4), ("INFY", ist(9, 17), 3))
    )

    m1 = eng.open_candle("INFY", Timeframe.M1)
    m5 = eng.open_candle("INFY", Timeframe.M5)

    assert m1 is not None and (m1.start, m1.open, m1.close) == (ist(9, 17), 3, 3)
    assert m5 is not None and (m5.open, m5.high, m5.close, m5.trades) == (1, 4, 3, 3)
    assert eng.open_candle("TCS", Timeframe.M5) is None


def test_open_candles_lists_the_latest_bucket_of_each_symbol() -> None:
    eng = engine()
    eng.ingest(batch(("TCS", ist(9, 15, 5), 1), ("INFY", ist(9, 15, 6), 2), ("TCS", ist(9, 16), 3)))

    candles = eng.open_candles(Timeframe.M1)

    assert [(c.symbol, c.start) for c in candles] == [("INFY", ist(9, 15)), ("TCS", ist(9, 16))]


def test_unknown_symbols_are_counted_and_dropped() -> None:
    eng = engine()

    eng.ingest(batch(("NOPE", ist(9, 15), 1), ("INFY", ist(9, 15), 2)))

    assert eng.unknown_symbol_ticks == 1
    assert eng.stats("INFY").accepted == 1


def test_calendar_can_be_a_callable() -> None:
    eng = CandleEngine(lambda symbol: CALENDARS[symbol])

    eng.ingest(batch(("BTCUSDT", datetime(2024, 6, 15, 12, tzinfo=UTC), 1)))

    assert eng.stats("BTCUSDT").accepted == 1


def test_cache_keeps_the_last_n_candles_oldest_first() -> None:
    eng = CandleEngine(CALENDARS, cache_size=3)
    eng.ingest(batch(*[("INFY", ist(9, 15 + i, 1), float(i)) for i in range(5)]))
    eng.on_timer(ist(9, 21))

    recent = eng.recent("INFY", Timeframe.M1, 10)
    window = eng.cache.window("INFY", Timeframe.M1, 2)

    assert [c.open for c in recent] == [2, 3, 4]
    assert window["close"].tolist() == [3, 4]


def test_us_buckets_align_to_the_0930_new_york_open_and_the_day_is_the_session() -> None:
    new_york = ZoneInfo("America/New_York")
    eng = CandleEngine({"AAPL": USEquityCalendar()})

    def at(hh: int, mm: int) -> datetime:
        return datetime(2025, 7, 15, hh, mm, 30, tzinfo=new_york)

    closed = eng.ingest(batch(("AAPL", at(9, 31), 210.0), ("AAPL", at(10, 40), 211.0)))
    closed += eng.ingest(batch(("AAPL", at(15, 59), 212.0)))
    closed += eng.on_timer(datetime(2025, 7, 15, 17, 0, tzinfo=new_york))

    def spans(tf: Timeframe) -> list[tuple[str, str]]:
        return [
            (
                c.start.astimezone(new_york).strftime("%H:%M"),
                c.end.astimezone(new_york).strftime("%H:%M"),
            )
            for c in of(closed, tf)
        ]

    assert spans(Timeframe.H1) == [("09:30", "10:30"), ("10:30", "11:30"), ("15:30", "16:00")]
    assert spans(Timeframe.M15) == [("09:30", "09:45"), ("10:30", "10:45"), ("15:45", "16:00")]
    assert spans(Timeframe.D1) == [("09:30", "16:00")]
    assert [c.close for c in of(closed, Timeframe.D1)] == [212.0]


def test_negative_grace_is_refused() -> None:
    with pytest.raises(ValueError):
        CandleEngine(CALENDARS, grace=timedelta(seconds=-1))


def test_closed_candles_equal_validated_messages_and_copy_independently() -> None:
    eng = engine()
    eng.ingest(batch(("INFY", ist(9, 15, 5), 101.5, 3)))
    (m1, m5) = eng.on_timer(ist(9, 21))

    validated = CandleMsg.model_validate(m1.model_dump())
    changed = m1.model_copy(update={"close": 1.0})

    assert m1 == validated
    assert m1.model_dump_json() == validated.model_dump_json()
    assert changed.close == 1.0 and m1.close == 101.5
    assert m5.model_fields_set == validated.model_fields_set


def test_candles_closed_after_quiet_calls_are_distinct_validated_messages() -> None:
    eng = engine()
    eng.ingest(batch(("INFY", ist(9, 15, 5), 101.5, 3), ("TCS", ist(9, 15, 7), 3900.0, 2)))
    assert eng.on_timer(ist(9, 15, 30)) == []  # a quiet call: nothing closes yet

    closed = eng.on_timer(ist(9, 16, 5))

    assert [(c.symbol, c.timeframe) for c in closed] == [("INFY", "1m"), ("TCS", "1m")]
    assert closed == [CandleMsg.model_validate(c.model_dump()) for c in closed]
    assert closed[0] is not closed[1]
    assert closed[1].model_copy(update={"close": 1.0}).close == 1.0 and closed[1].close == 3900.0


def test_a_late_tick_after_the_close_was_prepared_is_in_the_closed_candle() -> None:
    eng = engine(grace=timedelta(seconds=2))
    eng.ingest(batch(("INFY", ist(9, 15, 5), 100.0, 3), ("TCS", ist(9, 15, 7), 3900.0, 2)))
    # Both buckets have ended, their grace runs: the engine prepares their messages.
    assert eng.on_timer(ist(9, 16, 0.5)) == []
    prepared = eng._prepared._msgs.tolist()
    eng.ingest(batch(("INFY", ist(9, 15, 59), 105.0, 1)))  # late, but within the grace

    closed = eng.on_timer(ist(9, 16, 3))

    infy, tcs = closed
    assert (infy.symbol, infy.high, infy.close, infy.volume, infy.trades) == (
        "INFY", 105.0, 105.0, 4.0, 2,
    )  # fmt: skip
    assert (tcs.symbol, tcs.close, tcs.trades) == ("TCS", 3900.0, 1)
    assert any(tcs is m for m in prepared)  # unchanged since prepared: handed out as made
    assert not any(infy is m for m in prepared)  # changed: made anew at the close
    assert closed == [CandleMsg.model_validate(c.model_dump()) for c in closed]
    assert eng.on_timer(ist(9, 16, 4)) == []  # nothing prepared is handed out twice


def test_a_close_of_one_symbol_keeps_the_prepared_close_of_another() -> None:
    eng = engine(grace=timedelta(seconds=2))
    eng.ingest(batch(("BTCUSDT", ist(15, 28), 100.0), ("TCS", ist(15, 28), 3900.0)))
    assert eng.ingest(batch(("BTCUSDT", ist(15, 27, 59.5), 101.0))) == []  # BTC's close prepared
    # TCS's minute closes on its own tick; BTC's prepared close must stay untouched.
    (tcs,) = eng.ingest(batch(("TCS", ist(15, 29, 2), 3901.0)))

    closed = eng.on_timer(ist(15, 29, 2))

    assert tcs.symbol == "TCS"
    assert [(c.symbol, c.start, c.close) for c in closed] == [
        ("BTCUSDT", ist(15, 27), 101.0),
        ("BTCUSDT", ist(15, 28), 100.0),
    ]


def test_closed_candles_carry_their_bus_channels() -> None:
    eng = engine()
    eng.ingest(batch(("INFY", ist(9, 15, 5), 100.0), ("TCS", ist(9, 15, 7), 3900.0)))

    closed = eng.on_timer(ist(9, 20, 3))

    assert closed.channels == [candle_channel(c.symbol, c.timeframe) for c in closed]
    assert closed.events() == list(zip(closed.channels, closed, strict=True))


def test_closed_candles_are_in_the_cache_before_settle_is_called() -> None:
    eng = engine()
    eng.ingest(batch(("INFY", ist(9, 15, 5), 100.0)))

    (closed,) = eng.on_timer(ist(9, 16, 3))

    assert eng.recent("INFY", Timeframe.M1, 5) == [closed]
    eng.settle()  # idempotent once settled
    assert eng.cache.window("INFY", Timeframe.M1, 5).shape == (1,)


def test_symbols_with_equal_calendars_share_one_session_table() -> None:
    registry = SymbolRegistry(lambda symbol: calendar_for("BINANCE" if "USDT" in symbol else "NSE"))

    registry.ids_of(np.array(["INFY", "TCS", "BTCUSDT", "ETHUSDT"], dtype=object))

    assert len(registry.tables) == 2


def test_polars_and_numpy_aggregations_agree_on_a_large_batch_with_ties() -> None:
    rng = np.random.default_rng(3)
    n = 50_000
    key = rng.integers(0, 3_000, n).astype(np.int64)
    ts = np.sort(rng.integers(0, 1_000, n))  # many equal timestamps
    price = rng.permutation(n).astype(np.float64)  # distinct, so any order slip shows
    qty = rng.integers(0, 10, n).astype(np.float64)

    by_polars = _candles._aggregate_polars(key, ts, price, qty)
    by_numpy = _candles._aggregate_numpy(key, ts, price, qty)

    p, q = np.argsort(by_polars["key"]), np.argsort(by_numpy["key"])
    for column in ("key", "open", "high", "low", "close", "volume", "trades", "first_ts"):
        assert np.array_equal(by_polars[column][p], by_numpy[column][q]), column


@pytest.mark.parametrize("span_ns", [10**12, 10**17])  # the second overflows the fast path
def test_prior_max_by_symbol_is_the_running_max_of_earlier_ticks(span_ns: int) -> None:
    rng = np.random.default_rng(5)
    sid = rng.integers(0, 200, 2_000).astype(np.int32)
    ts = rng.integers(1_700_000_000 * 10**9, 1_700_000_000 * 10**9 + span_ns, 2_000)
    expected, seen = [], {}
    for s, t in zip(sid.tolist(), ts.tolist(), strict=True):
        expected.append(seen.get(s, NO_TIME))
        seen[s] = max(seen.get(s, t), t)

    assert prior_max_by_symbol(sid, ts).tolist() == expected


def test_candle_volumes_carry_no_binary_float_noise() -> None:
    eng = engine()
    t = datetime(2024, 6, 10, 23, 30, 5, tzinfo=UTC)
    closed = eng.ingest(
        batch(
            ("BTCUSDT", t, 100.0, 0.1),
            ("BTCUSDT", t + timedelta(seconds=5), 100.0, 0.2),  # 0.1 + 0.2 = 0.30000000000000004
            ("BTCUSDT", t + timedelta(minutes=1), 100.0, 0.7),
        )
    )
    assert eng.open_candle("BTCUSDT", Timeframe.H1).volume == 1.0  # type: ignore[union-attr]

    closed += eng.on_timer(datetime(2024, 6, 11, 1, tzinfo=UTC))

    assert [c.volume for c in of(closed, Timeframe.M1)] == [0.3, 0.7]
    assert {c.volume for c in closed if c.timeframe is not Timeframe.M1} == {1.0}
    assert all(len(repr(c.volume)) <= 12 for c in closed)

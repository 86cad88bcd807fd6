"""``algotrade data download``: Binance klines and NSE bhavcopies from a local server.

The server (tests/market_data_engine/history_server.py) speaks both sources' formats;
no test touches the network.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from algotrade.cli import app
from algotrade.context import CliContext
from market_data_engine.downloads import DownloadError
from market_data_engine.downloads._http import Fetcher, Pacer
from market_data_engine.downloads.binance import BinanceKlines
from shared.calendar import IST, AlwaysOpenCalendar
from shared.candle_cache_redis import RedisCandleCache
from shared.contracts import CandleMsg, Timeframe
from shared.redis_client import create_redis_from_settings
from shared.tickstore import LocalTickStore, tickstore_from_settings
from tests.api_gateway.conftest import settings_for
from tests.market_data_engine.history_server import KlineSeries, error, serve
from tests.servers import free_port

DEC1 = datetime(2025, 12, 1, tzinfo=UTC)
DEC1_MS = int(DEC1.timestamp() * 1000)
MINUTES = 2160  # 1 Dec 00:00 to 2 Dec 12:00 UTC: three pages of 1,000, 1,000 and 160
RANGE = ["--from", "2025-12-01", "--to", "2025-12-02T12:00:00Z"]


@pytest.fixture
def server():
    series = {
        "1m": KlineSeries(DEC1_MS, 60_000, MINUTES + 600),
        "1d": KlineSeries(DEC1_MS - 30 * 86_400_000, 86_400_000, 32),
    }
    yield from serve(series)


@pytest.fixture
def context(request, tmp_path, server) -> CliContext:
    settings = settings_for(
        "sqlite",
        request,
        tmp_path,
        download_binance_url=server.url,
        download_nse_url=server.url,
        download_binance_requests_per_second=1000,
        download_nse_requests_per_second=1000,
        download_max_retry_wait_seconds=2,
    )
    return CliContext.from_settings(settings)


def _download(context: CliContext, *args: str):
    return CliRunner().invoke(app, ["data", "download", *args], obj=context)


def _binance(context: CliContext, *extra: str):
    return _download(context, "--exchange", "binance", "--symbol", "BTCUSDT", *RANGE, *extra)


def _stored(context: CliContext, symbol: str, timeframe: Timeframe):
    store = LocalTickStore(context.settings.data_dir / "ticks", max_candles_per_series=50_000)
    return asyncio.run(store.query_candles(symbol, timeframe))


def _everything(context: CliContext, symbol: str = "BTCUSDT"):
    return {tf: _stored(context, symbol, tf) for tf in Timeframe}


def _page_starts(server) -> list[int]:
    return [int(q["startTime"]) for q in server.klines_requests()]


def test_binance_minutes_are_stored_with_their_roll_ups(context, server):
    result = _binance(context)

    assert result.exit_code == 0, result.output
    assert "downloaded 2160 1m candles of BTCUSDT from binance" in result.output
    assert "3 of 3 pages fetched" in result.output
    asked = server.klines_requests()
    assert [(q["interval"], q["limit"]) for q in asked] == [("1m", "1000")] * 3
    assert _page_starts(server) == [DEC1_MS, DEC1_MS + 60_000_000, DEC1_MS + 120_000_000]
    assert int(asked[0]["endTime"]) == DEC1_MS + 60_000_000 - 1
    minutes = _stored(context, "BTCUSDT", Timeframe.M1)
    recorded = server.series["1m"].rows
    assert len(minutes) == MINUTES and minutes[0].start == DEC1
    assert (minutes[0].open, minutes[0].close, minutes[0].trades) == (90360.0, 90394.35, 4311)
    assert minutes[-1].close == float(recorded[MINUTES - 1][4])
    assert len(_stored(context, "BTCUSDT", Timeframe.H1)) == 36
    [day] = _stored(context, "BTCUSDT", Timeframe.D1)  # 2 Dec has not ended in the range
    assert day.start == DEC1 and day.high == max(float(r[2]) for r in recorded[:1440])
    assert day.volume == pytest.approx(sum(float(r[5]) for r in recorded[:1440]))


def test_running_again_fetches_nothing_and_changes_nothing(context, server):
    assert _binance(context).exit_code == 0
    before = _everything(context)
    server.requests.clear()

    again = _binance(context)

    assert again.exit_code == 0, again.output
    assert "0 of 3 pages fetched, 3 already stored" in again.output
    assert server.klines_requests() == []
    assert _everything(context) == before


def test_a_failed_page_leaves_whole_pages_and_a_rerun_completes_the_rest(
    context, server, request, tmp_path
):
    second = DEC1_MS + 60_000_000
    failing = [True]
    server.answers.append(
        lambda path, q: error("server_error") if failing[0] and q.get("startTime") == str(second)
        else None
    )  # fmt: skip

    failed = _binance(context)

    assert failed.exit_code == 1
    assert "binance answered 502" in failed.output and "502 Bad Gateway" in failed.output
    assert len(_stored(context, "BTCUSDT", Timeframe.M1)) == 1000  # the first page, whole
    assert _stored(context, "BTCUSDT", Timeframe.D1) == []  # 1 Dec is not complete
    failing[0] = False
    server.requests.clear()

    resumed = _binance(context)

    assert resumed.exit_code == 0, resumed.output
    assert _page_starts(server) == [second, second + 60_000_000]
    fresh = CliContext.from_settings(
        context.settings.model_copy(update={"data_dir": tmp_path / "fresh"})
    )
    assert _binance(fresh).exit_code == 0
    assert _everything(context) == _everything(fresh)


def test_rate_limited_request_waits_retry_after_and_goes_on(context, server):
    limited = [1]

    def once(path, q):
        if limited[0]:
            limited[0] -= 1
            return error("too_many_requests")
        return None

    server.answers.append(once)

    result = _binance(context)

    assert result.exit_code == 0, result.output
    assert _page_starts(server) == [DEC1_MS, DEC1_MS, DEC1_MS + 60_000_000, DEC1_MS + 120_000_000]
    assert len(_stored(context, "BTCUSDT", Timeframe.M1)) == MINUTES


def test_a_ban_ends_the_download_with_binances_message_and_keeps_whole_pages(context, server):
    second = str(DEC1_MS + 60_000_000)
    server.answers.append(lambda path, q: error("banned") if q.get("startTime") == second else None)

    result = _binance(context, "--json")

    assert result.exit_code == 1
    failure = json.loads(result.stderr)
    assert failure["code"] == "download_failed"
    assert "banned this address (HTTP 418; it asks to wait 7200 s)" in failure["message"]
    assert "IP banned until" in failure["message"]
    assert len(server.klines_requests()) == 2  # a ban is not retried
    assert len(_stored(context, "BTCUSDT", Timeframe.M1)) == 1000


def test_a_retry_after_longer_than_allowed_ends_the_download(context, server):
    server.answers.append(
        lambda path, q: (429, {"Retry-After": "3600"}, b'{"code":-1003,"msg":"Too many requests"}')
    )

    result = _binance(context)

    assert result.exit_code == 1
    assert "rate limited us (HTTP 429; it asks to wait 3600 s)" in result.output
    assert _stored(context, "BTCUSDT", Timeframe.M1) == []


def test_a_symbol_binance_does_not_know_is_refused_with_its_message(context, server):
    result = _download(context, "--exchange", "binance", "--symbol", "ETHUSDT", *RANGE)

    assert result.exit_code == 1
    assert "Invalid symbol. (code -1121)" in result.output
    assert _stored(context, "ETHUSDT", Timeframe.M1) == []


def test_a_malformed_page_is_refused_whole(context, server):
    def broken(path, q):
        rows = server.series["1m"].between(int(q["startTime"]), int(q["endTime"]), 1000)
        rows[5] = [*rows[5][:2], "1.00000000", *rows[5][3:]]  # high below the open
        return 200, {"Content-Type": "application/json"}, json.dumps(rows).encode()

    server.answers.append(broken)

    result = _binance(context)

    assert result.exit_code == 1
    assert "kline 5 has a high below or a low above its prices" in result.output
    assert _stored(context, "BTCUSDT", Timeframe.M1) == []


def test_daily_klines_are_stored_as_utc_days(context, server):
    result = _download(
        context, "--exchange", "binance", "--symbol", "BTCUSDT", "--timeframe", "1d",
        "--from", "2025-11-01", "--to", "2025-11-30",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    days = _stored(context, "BTCUSDT", Timeframe.D1)
    assert len(days) == 30  # a date as --to means the end of that day
    assert days[0].start == datetime(2025, 11, 1, tzinfo=UTC)
    assert days[0].end - days[0].start == timedelta(days=1)
    assert _stored(context, "BTCUSDT", Timeframe.M1) == []


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--symbol", "NOPEUSDT", *RANGE], "unknown instrument 'NOPEUSDT'"),
        (["--symbol", "RELIANCE", *RANGE], "RELIANCE is listed on NSE, not BINANCE"),
        (["--symbol", "BTCUSDT", "--from", "2999-01-01"], "is in the future"),
        (["--symbol", "BTCUSDT", "--from", "2025-12-02", "--to", "2999-01-01"], "in the future"),
        (["--symbol", "BTCUSDT", "--from", "2025-12-02", "--to", "2025-12-01T00:00Z"], "inverted"),
        (["--symbol", "BTCUSDT", "--from", "yesterday"], "not an ISO-8601 date"),
        (["--symbol", "BTCUSDT", "--timeframe", "5m", *RANGE], "rolled up from 1m"),
    ],
    ids=["unknown", "wrong-exchange", "future", "future-end", "inverted", "bad-date", "5m"],
)
def test_bad_input_is_refused_before_any_request(context, server, args, why):
    result = _download(context, "--exchange", "binance", *args)

    assert result.exit_code == 2
    assert why in result.output
    assert server.requests == []


def test_the_weight_header_near_the_limit_pauses_until_the_next_minute():
    pacer = Pacer(1000)
    klines = BinanceKlines(
        Fetcher(None, pacer, source="binance", max_retry_wait=1),  # type: ignore[arg-type]
        "http://unused",
        "BTCUSDT",
        Timeframe.M1,
        AlwaysOpenCalendar(),
    )
    before = pacer._next

    klines._mind_weight("5000")
    assert pacer._next == before
    klines._mind_weight("5600")

    assert pacer._next > before + 1  # at least until the minute turns


def test_a_timeframe_a_source_does_not_serve_is_refused():
    with pytest.raises(DownloadError, match="rolled up from 1m"):
        BinanceKlines(None, "", "BTCUSDT", Timeframe.H1, AlwaysOpenCalendar())  # type: ignore[arg-type]


# -- NSE bhavcopy ------------------------------------------------------------------------


def _nse(context: CliContext, *extra: str):
    return _download(
        context, "--exchange", "nse", "--symbol", "RELIANCE",
        "--from", "2025-11-28", "--to", "2025-12-02", *extra,
    )  # fmt: skip


def test_nse_bhavcopies_give_daily_candles_of_the_trading_days(context, server):
    result = _nse(context)

    assert result.exit_code == 0, result.output
    assert [p for p, _ in server.requests] == [
        f"/content/cm/BhavCopy_NSE_CM_0_0_0_{d}_F_0000.csv.zip"
        for d in ("20251128", "20251201", "20251202")  # not the weekend between
    ]
    days = _stored(context, "RELIANCE", Timeframe.D1)
    assert [d.start for d in days] == [
        datetime(2025, 11, 28, 9, 15, tzinfo=IST),
        datetime(2025, 12, 1, 9, 15, tzinfo=IST),
        datetime(2025, 12, 2, 9, 15, tzinfo=IST),
    ]
    first = days[0]
    assert (first.open, first.high, first.low, first.close) == (1566.0, 1575.9, 1558.1, 1569.4)
    assert (first.volume, first.trades) == (7896251, 298411)
    assert first.end == datetime(2025, 11, 28, 15, 30, tzinfo=IST)
    assert _stored(context, "RELIANCE", Timeframe.M1) == []  # daily candles only


def test_nse_again_fetches_nothing(context, server):
    assert _nse(context).exit_code == 0
    server.requests.clear()

    again = _nse(context)

    assert again.exit_code == 0, again.output
    assert server.requests == []


def test_a_day_without_a_bhavcopy_is_reported_and_the_others_stored(context, server):
    result = _download(
        context, "--exchange", "nse", "--symbol", "RELIANCE",
        "--from", "2025-11-27", "--to", "2025-12-01",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "note: 2025-11-27: no bhavcopy at" in result.output
    assert len(_stored(context, "RELIANCE", Timeframe.D1)) == 2


def test_nse_serves_daily_candles_only(context, server):
    result = _nse(context, "--timeframe", "1m")

    assert result.exit_code == 2
    assert "nse downloads 1d candles, not '1m'" in result.output
    assert server.requests == []


@pytest.mark.parametrize(
    "range_",
    [
        ["--from", "2024-01-01", "--to", "2024-01-10"],
        ["--from", "2024-06-01", "--to", "2024-08-01"],
    ],
    ids=["all-before", "straddling"],
)
def test_nse_before_the_udiff_archive_is_refused_before_any_request(context, server, range_):
    result = _download(context, "--exchange", "nse", "--symbol", "RELIANCE", *range_)

    assert result.exit_code == 2
    assert "nse history is read from 2024-07-08 on" in result.output
    assert "use --from 2024-07-08 or later" in result.output
    assert server.requests == []


def test_nse_from_the_first_udiff_day_is_served(context, server):
    result = _download(
        context, "--exchange", "nse", "--symbol", "RELIANCE",
        "--from", "2024-07-08", "--to", "2024-07-08",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert [p for p, _ in server.requests] == [
        "/content/cm/BhavCopy_NSE_CM_0_0_0_20240708_F_0000.csv.zip"
    ]


@pytest.mark.service
def test_the_distributed_profile_stores_downloads_in_influxdb_and_the_strategy_windows(
    request, tmp_path, server, influx_server, redis_server
):
    settings = settings_for(
        "sqlite",
        request,
        tmp_path,
        profile="distributed",  # the database is never asked: downloads touch the tick store
        influx_url=influx_server.url,
        influx_database=f"download_{uuid.uuid4().hex[:12]}",
        redis_host=redis_server.host,
        redis_port=redis_server.port,
        download_binance_url=server.url,
        download_binance_requests_per_second=1000,
    )
    live = _minute(DEC1 + timedelta(minutes=MINUTES))  # the running engine's newest candle
    asyncio.run(_in_candle_cache(settings, "push", [live]))

    result = _download(
        CliContext.from_settings(settings),
        "--exchange", "binance", "--symbol", "BTCUSDT", *RANGE,
    )  # fmt: skip
    again = _download(
        CliContext.from_settings(settings),
        "--exchange", "binance", "--symbol", "BTCUSDT", *RANGE, "--json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    minutes, hours = asyncio.run(_from_influx(settings))
    assert len(minutes) == MINUTES
    assert minutes[0].start == DEC1 and len(hours) == MINUTES // 60
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["fetched"] == 0  # every page found stored in InfluxDB
    window = asyncio.run(_in_candle_cache(settings, "recent"))
    assert len(window) == 300  # the cache's depth: downloaded history, then the live candle
    assert window[-1] == live and window[-2].start == live.start - timedelta(minutes=1)


def _minute(start: datetime) -> CandleMsg:
    return CandleMsg(
        symbol="BTCUSDT", timeframe=Timeframe.M1, start=start, end=start + timedelta(minutes=1),
        open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0, trades=1,
    )  # fmt: skip


async def _in_candle_cache(settings, op: str, candles=()):
    client = create_redis_from_settings(settings)
    try:
        cache = RedisCandleCache(client)
        if op == "push":
            return await cache.push(list(candles))
        return await cache.recent("BTCUSDT", Timeframe.M1, 1000)
    finally:
        await client.aclose()


async def _from_influx(settings):
    store = tickstore_from_settings(settings)
    await store.start()
    try:
        minutes = await store.query_candles("BTCUSDT", Timeframe.M1, limit=10_000)
        hours = await store.query_candles("BTCUSDT", Timeframe.H1, limit=10_000)
    finally:
        await store.close()
    return minutes, hours


@pytest.mark.service
def test_redis_away_leaves_the_download_stored_with_a_warning(
    request, tmp_path, server, influx_server
):
    settings = settings_for(
        "sqlite",
        request,
        tmp_path,
        profile="distributed",
        influx_url=influx_server.url,
        influx_database=f"download_{uuid.uuid4().hex[:12]}",
        redis_port=free_port(),  # nothing listens there
        download_binance_url=server.url,
        download_binance_requests_per_second=1000,
    )

    result = _download(
        CliContext.from_settings(settings),
        "--exchange", "binance", "--symbol", "BTCUSDT", *RANGE,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "warning: stored, but the strategy windows' candle cache (Redis)" in result.stderr
    minutes, _ = asyncio.run(_from_influx(settings))
    assert len(minutes) == MINUTES

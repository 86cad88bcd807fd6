"""REST /backtests: submit, poll, fetch, list, cancel, delete; bad input as 4xx; limits;
progress on the user's channel; another user's runs are not found."""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from shared.config import Settings
from shared.contracts import BacktestProgressMsg, user_channel
from tests.analytics_service.walk_backtests import (
    START,
    SYMBOL,
    body,
    candles,
    csv_text,
    store_candles,
    upload,
)
from tests.api_gateway.conftest import Api, build_api, settings_for
from tests.api_gateway.route_walk import R
from tests.servers import ProcessServer

B = f"{R}/backtests"


ROOT = Path(__file__).resolve().parents[2]
_dbs = itertools.count(1)


def analytics_worker(settings: Settings) -> ProcessServer:
    """A real Celery worker of the analytics app, on the test's PostgreSQL, Redis, InfluxDB."""
    env = {
        "ALGOTRADE_ENVIRONMENT": "development",
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_DATABASE_URL": settings.sqlalchemy_url,
        "ALGOTRADE_REDIS_HOST": settings.redis_host,
        "ALGOTRADE_REDIS_PORT": str(settings.redis_port),
        "ALGOTRADE_REDIS_DB": "0",
        "ALGOTRADE_REDIS_CLUSTER_MODE": "false",
        "ALGOTRADE_INFLUX_URL": settings.influx_url,
        "ALGOTRADE_INFLUX_DATABASE": settings.influx_database,
        "ALGOTRADE_BACKTEST_MAX_BARS": str(settings.backtest_max_bars),
        "ALGOTRADE_BACKTEST_SWEEP_POINTS_PER_TASK": str(settings.backtest_sweep_points_per_task),
    }
    argv = [sys.executable, "-m", "celery", "-A", "analytics_service.celery_app", "worker"]
    argv += ["--pool=solo", "-c", "1", "-Q", settings.backtest_queue, "--without-gossip"]
    argv += ["--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    return ProcessServer(argv, env=env, cwd=ROOT, name="celery-analytics", stop_signal=15)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.service)])
async def api(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Api]:
    """The gateway: embedded (SQLite, local store, runs in-process) or distributed
    (PostgreSQL, InfluxDB, runs as Celery tasks on Redis taken by a real worker process)."""
    limits = {"backtest_max_concurrent": 2, "backtest_max_bars": 100_000}
    worker = None
    if request.param == "postgres":
        redis = request.getfixturevalue("redis_server")
        influx = request.getfixturevalue("influx_server")
        limits |= {
            "redis_host": redis.host,
            "redis_port": redis.port,
            "redis_cluster_mode": False,
            "influx_url": influx.url,
            "influx_database": f"backtests_{next(_dbs)}",
        }
    settings = settings_for(request.param, request, tmp_path, **limits)
    if request.param == "postgres":
        worker = analytics_worker(settings)
    async for built in build_api(settings):
        await store_candles(built.client)
        if worker is not None:
            await asyncio.to_thread(worker.start)
        try:
            yield built
        finally:
            launcher = built.ctx.backtest_launcher
            if launcher is not None:
                await launcher.stop()
            if worker is not None:
                await asyncio.to_thread(worker.stop)
            await built.ctx.tickstore().close()


async def finished(api: Api, headers: dict[str, str], run_id: int) -> dict:
    for _ in range(500):
        got = await api.client.get(f"{B}/{run_id}", headers=headers)
        assert got.status_code == 200, got.text
        if got.json()["status"] not in ("queued", "running"):
            return got.json()
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish")


async def test_a_submitted_backtest_runs_and_its_report_can_be_fetched(api):
    trader = await api.trader()

    r = await api.client.post(B, headers=trader.headers, json=body())

    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued"
    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    assert run["progress"] == 1.0
    assert run["bars"] == 400
    result = run["result"]
    assert result["trades"]
    assert result["run_card"]["strategy"] == "ma_crossover"
    assert result["conventions"]["fill_at"] == "next_open"
    assert result["metrics"]["trades"]["count"] >= 1
    listing = await api.client.get(B, headers=trader.headers)
    assert [item["id"] for item in listing.json()["items"]] == [run["id"]]
    assert "result" not in listing.json()["items"][0]


async def test_a_sweep_ranks_its_grid(api):
    trader = await api.trader()
    sweep = {"grid": {"fast": [3, 5], "slow": [10, 20]}, "rank_by": "net_pnl"}

    r = await api.client.post(B, headers=trader.headers, json=body(sweep=sweep))

    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    points = run["result"]["points"]
    assert len(points) == 4
    assert [p["net_pnl"] for p in points] == sorted((p["net_pnl"] for p in points), reverse=True)


@pytest.mark.parametrize(
    ("overrides", "status", "text"),
    [
        ({"strategy": "nope"}, 422, "no strategy named"),
        ({"params": {"fast": 50, "slow": 20}}, 422, "slow"),
        ({"params": {"speed": 3}}, 422, "speed"),
        ({"settings": {"sizing_method": "martingale"}}, 422, "sizing method"),
        ({"end": START.isoformat()}, 422, "end must be after"),
        ({"symbol": "TCS"}, 422, "no 1m candles of TCS"),
        ({"start": (START - timedelta(days=400)).isoformat()}, 422, "per-run limit"),
        ({"sweep": {"grid": {"fast": [50, 60]}}}, 422, "no point of the grid"),
        ({"settings": {"capital": "-5"}}, 422, "capital"),
    ],
    ids=[
        "unknown strategy",
        "params outside schema",
        "unknown param",
        "sizing",
        "empty range",
        "no data",
        "too many bars",
        "empty grid",
        "capital",
    ],
)
async def test_bad_requests_are_4xx_and_store_nothing(api, overrides, status, text):
    trader = await api.trader()

    r = await api.client.post(B, headers=trader.headers, json=body(**overrides))

    assert r.status_code == status, r.text
    assert text in r.text
    assert (await api.client.get(B, headers=trader.headers)).json()["total"] == 0


async def test_a_run_cancelled_right_after_submission_ends_cancelled(api):
    trader = await api.trader()
    r = await api.client.post(B, headers=trader.headers, json=body())
    run_id = r.json()["id"]

    cancelled = await api.client.post(f"{B}/{run_id}/cancel", headers=trader.headers)

    assert cancelled.status_code == 200, cancelled.text
    run = await finished(api, trader.headers, run_id)
    assert run["status"] == "cancelled"
    again = await api.client.post(f"{B}/{run_id}/cancel", headers=trader.headers)
    assert again.status_code == 409


async def test_a_finished_run_can_be_deleted_an_active_one_cannot(api):
    trader = await api.trader()
    first = (await api.client.post(B, headers=trader.headers, json=body())).json()["id"]
    active = await api.client.delete(f"{B}/{first}", headers=trader.headers)
    await finished(api, trader.headers, first)

    gone = await api.client.delete(f"{B}/{first}", headers=trader.headers)

    assert active.status_code == 409
    assert gone.status_code == 204
    assert (await api.client.get(f"{B}/{first}", headers=trader.headers)).status_code == 404


class Parked:
    """A launcher that starts nothing: submitted runs stay queued."""

    async def launch(self, user_id: int, run_id: int) -> None:
        return None

    def cancel(self, run_id: int) -> None:
        return None

    async def stop(self) -> None:
        return None


async def test_concurrent_runs_are_limited_per_user(api):
    api.ctx.backtest_launcher = Parked()
    trader, other = await api.trader(), await api.trader()
    for _ in range(2):
        assert (await api.client.post(B, headers=trader.headers, json=body())).status_code == 202

    third = await api.client.post(B, headers=trader.headers, json=body())
    others = await api.client.post(B, headers=other.headers, json=body())

    assert third.status_code == 429, third.text
    assert others.status_code == 202


async def test_progress_is_published_on_the_users_channel(api):
    """Embedded: on the in-process bus; distributed: the worker publishes on Redis."""
    from shared.bus import InProcessEventBus, create_event_bus

    if api.ctx.settings.profile.value == "embedded":
        bus = InProcessEventBus()
        api.ctx.bus = bus
        api.ctx.backtest_launcher = None  # built again with the bus
    else:
        bus = create_event_bus(api.ctx.settings)
    trader = await api.trader()
    sub = await bus.subscribe([user_channel(trader.id)], [])
    try:
        r = await api.client.post(B, headers=trader.headers, json=body())
        await finished(api, trader.headers, r.json()["id"])
        seen = []
        while (item := await sub.get(0.5)) is not None:
            seen.append(item[1])
    finally:
        await sub.close()
        await bus.close()
    statuses = [m.status for m in seen if isinstance(m, BacktestProgressMsg)]
    assert statuses[0] == "running" and statuses[-1] == "done"
    assert all(m.run_id == r.json()["id"] for m in seen)


async def test_another_users_run_is_not_found(api):
    owner, intruder = await api.trader(), await api.trader()
    run_id = (await api.client.post(B, headers=owner.headers, json=body())).json()["id"]
    await finished(api, owner.headers, run_id)

    for method, path in (
        ("GET", f"{B}/{run_id}"),
        ("POST", f"{B}/{run_id}/cancel"),
        ("DELETE", f"{B}/{run_id}"),
    ):
        r = await api.client.request(method, path, headers=intruder.headers)
        assert r.status_code == 404, (method, path, r.status_code)
    assert (await api.client.get(B, headers=intruder.headers)).json()["total"] == 0


# -- walk-forward, uploaded candles, finer candles, limits ------------------------------


async def test_a_walk_forward_run_stitches_its_out_of_sample_windows(api):
    trader = await api.trader()
    wf = {"folds": 2, "out_of_sample": 0.5}

    r = await api.client.post(B, headers=trader.headers, json=body(walk_forward=wf))

    assert r.status_code == 202, r.text
    assert r.json()["kind"] == "walk_forward"
    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    result = run["result"]
    assert result["run_card"]["bars"] == 200  # the out-of-sample half of 400
    assert [w["out_of_sample"]["bars"] for w in result["walk_forward"]["windows"]] == [100, 100]
    assert "walk_forward" in result["conventions"]


async def test_a_walk_forward_sweep_chooses_parameters_in_sample(api):
    trader = await api.trader()
    sweep = {"grid": {"fast": [3, 5], "slow": [10, 20]}, "rank_by": "net_pnl"}
    wf = {"folds": 2, "out_of_sample": 0.4, "anchored": True}

    r = await api.client.post(B, headers=trader.headers, json=body(sweep=sweep, walk_forward=wf))

    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    windows = run["result"]["walk_forward"]["windows"]
    assert [w["in_sample"]["bars"] for w in windows] == [240, 320]
    assert all(w["params"]["fast"] in (3, 5) for w in windows)
    assert run["result"]["walk_forward"]["rank_by"] == "net_pnl"


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"walk_forward": {"folds": 0}}, "folds"),
        ({"walk_forward": {"out_of_sample": 1.5}}, "out_of_sample"),
        ({"walk_forward": {"folds": 2, "extra": 1}}, "extra"),
        (
            {
                "sweep": {"grid": {"fast": [2, 3, 4], "slow": [10, 20]}},
                "walk_forward": {"folds": 2},
            },
            "at most 10 runs",
        ),
        ({"sweep": {"grid": {"fast": list(range(2, 15))}}}, "at most 10 runs"),
    ],
    ids=["no folds", "fraction", "unknown field", "grid x folds", "grid"],
)
async def test_walk_forward_and_sweep_sizes_are_checked_when_submitted(api, overrides, text):
    api.ctx.settings = api.ctx.settings.model_copy(update={"backtest_max_sweep_points": 10})
    trader = await api.trader()

    r = await api.client.post(B, headers=trader.headers, json=body(**overrides))

    assert r.status_code == 422, r.text
    assert text in r.text
    assert (await api.client.get(B, headers=trader.headers)).json()["total"] == 0


async def test_uploaded_candles_are_checked_stored_and_backtested(api):
    trader = await api.trader()

    up = await upload(api.client, trader)

    assert up.status_code == 201, up.text
    data = up.json()
    assert (data["bars"], data["symbol"], data["timeframe"]) == (400, SYMBOL, "1m")
    assert data["first_bar"].startswith("2025-01-06T00:00:00")
    r = await api.client.post(
        B, headers=trader.headers, json=body(start=None, end=None, dataset_id=data["id"])
    )
    assert r.status_code == 202, r.text
    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    assert run["result"]["run_card"]["data_hash"] == data["data_hash"]
    assert run["bars"] == 400


async def test_uploaded_parquet_reads_like_the_csv(api):
    import io

    import polars as pl

    trader = await api.trader()
    frame = pl.read_csv(io.StringIO(csv_text()))
    buffer = io.BytesIO()
    frame.write_parquet(buffer)

    csv = await upload(api.client, trader)
    parquet = await upload(api.client, trader, buffer.getvalue(), format="parquet")

    assert parquet.status_code == 201, parquet.text
    assert parquet.json()["data_hash"] == csv.json()["data_hash"]


@pytest.mark.parametrize(
    ("content", "line", "column"),
    [
        ("timestamp,open,high,low,close\n2025-01-06T00:00:00Z,1,2,1,1\n", 1, "volume"),
        (
            "timestamp,open,high,low,close,volume\n2025-01-06T00:01:00Z,1,2,1,1,1\n"
            "2025-01-06T00:00:00Z,1,2,1,1,1\n",
            3,
            "timestamp",
        ),
        (
            "timestamp,open,high,low,close,volume\n2025-01-06T00:00:00Z,1,2,1,1,1\n"
            "2025-01-06T00:01:00Z,1,2,0,1,1\n",
            3,
            "low",
        ),
        ("timestamp,open,high,low,close,volume\n", 2, None),
    ],
    ids=["missing column", "unsorted", "non-positive price", "no rows"],
)
async def test_a_bad_upload_is_422_naming_line_and_column_and_stores_nothing(
    api, content, line, column
):
    trader = await api.trader()

    r = await upload(api.client, trader, content)

    assert r.status_code == 422, r.text
    detail = r.json()["details"][0]
    assert (detail["line"], detail["column"]) == (line, column)
    listing = await api.client.get(f"{R}/backtest-data", headers=trader.headers)
    assert listing.json()["total"] == 0


async def test_an_upload_over_the_size_limit_is_413(api):
    trader = await api.trader()
    limit = api.ctx.settings.backtest_max_upload_bytes

    r = await upload(api.client, trader, csv_text(n=limit // 40 + 100))

    assert r.status_code == 413, r.text
    assert (await api.client.get(f"{R}/backtest-data", headers=trader.headers)).json()["total"] == 0


async def test_uploads_take_bodies_over_the_json_limit_but_other_routes_do_not(api):
    trader = await api.trader()
    big = csv_text(n=3_000)
    assert len(big) > api.ctx.settings.max_body_bytes

    ok = await upload(api.client, trader, big)
    other = await api.client.post(
        B, headers={**trader.headers, "content-type": "application/json"}, content=big
    )

    assert ok.status_code == 201, ok.text
    assert other.status_code == 413


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ({"timeframe": "2m"}, 422, "timeframe"),
        ({"format": "xlsx"}, 422, "format"),
        ({"user_id": "1"}, 422, "user_id"),
        ({"format": "parquet"}, 422, "Parquet"),
    ],
    ids=["timeframe", "format", "unknown parameter", "not parquet"],
)
async def test_upload_parameters_are_checked(api, query, status, text):
    trader = await api.trader()

    r = await upload(api.client, trader, **query)

    assert r.status_code == status, r.text
    assert text in r.text


async def test_uploaded_candles_must_match_the_run(api):
    trader = await api.trader()
    five = (await upload(api.client, trader, timeframe="5m")).json()["id"]
    other = (await upload(api.client, trader, symbol="BTCUSDT")).json()["id"]

    wrong_tf = await api.client.post(
        B, headers=trader.headers, json=body(start=None, end=None, dataset_id=five)
    )
    wrong_symbol = await api.client.post(
        B, headers=trader.headers, json=body(start=None, end=None, dataset_id=other)
    )
    both = await api.client.post(B, headers=trader.headers, json=body(dataset_id=five))

    assert wrong_tf.status_code == 422 and "5m candles" in wrong_tf.text
    assert wrong_symbol.status_code == 422 and "BTCUSDT" in wrong_symbol.text
    assert both.status_code == 422 and "not both" in both.text


async def test_another_users_dataset_cannot_be_backtested(api):
    owner, intruder = await api.trader(), await api.trader()
    dataset = (await upload(api.client, owner)).json()["id"]

    r = await api.client.post(
        B, headers=intruder.headers, json=body(start=None, end=None, dataset_id=dataset)
    )

    assert r.status_code == 404, r.text
    assert (await api.client.get(B, headers=intruder.headers)).json()["total"] == 0


async def test_a_dataset_read_by_an_active_run_cannot_be_deleted(api):
    api.ctx.backtest_launcher = Parked()
    trader = await api.trader()
    dataset = (await upload(api.client, trader)).json()["id"]
    await api.client.post(
        B, headers=trader.headers, json=body(start=None, end=None, dataset_id=dataset)
    )

    busy = await api.client.delete(f"{R}/backtest-data/{dataset}", headers=trader.headers)

    assert busy.status_code == 409, busy.text


async def test_stored_datasets_are_limited_per_user(api):
    api.ctx.settings = api.ctx.settings.model_copy(update={"backtest_max_datasets": 1})
    trader, other = await api.trader(), await api.trader()
    assert (await upload(api.client, trader)).status_code == 201

    second = await upload(api.client, trader)

    assert second.status_code == 429, second.text
    assert (await upload(api.client, other)).status_code == 201


def _five_minute(minutes: list) -> list:
    from shared.contracts import CandleMsg, Timeframe

    out = []
    for k in range(0, len(minutes), 5):
        part = minutes[k : k + 5]
        out.append(
            CandleMsg(
                symbol=part[0].symbol, timeframe=Timeframe.M5, start=part[0].start,
                end=part[0].start + timedelta(minutes=5), open=part[0].open,
                high=max(c.high for c in part), low=min(c.low for c in part),
                close=part[-1].close, volume=sum(c.volume for c in part), trades=len(part),
            )
        )  # fmt: skip
    return out


async def test_stops_on_longer_bars_replay_the_stored_minute_candles(api):
    store = api.ctx.tickstore()
    await store.write_candles(_five_minute(candles()))
    await store.flush()
    trader = await api.trader()
    settings = {"sizing_method": "fixed_quantity", "sizing_params": {"quantity": "1"}}

    r = await api.client.post(
        B,
        headers=trader.headers,
        json=body(
            timeframe="5m", params={"fast": 2, "slow": 5}, settings={**settings, "stops": True}
        ),
    )

    assert r.status_code == 202, r.text
    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    conventions = run["result"]["conventions"]
    assert conventions["intrabar_candles"] == "1m"
    assert "replayed on its 1m candles" in conventions["intrabar_rule"]


async def test_uploaded_finer_candles_go_with_stops(api):
    trader = await api.trader()
    minute = (await upload(api.client, trader)).json()["id"]
    five_csv = "timestamp,open,high,low,close,volume\n" + "".join(
        f"{c.start.isoformat()},{c.open},{c.high},{c.low},{c.close},{c.volume}\n"
        for c in _five_minute(candles())
    )
    five = (await upload(api.client, trader, five_csv, timeframe="5m")).json()["id"]
    settings = {"sizing_method": "fixed_quantity", "sizing_params": {"quantity": "1"}}
    run_body = body(
        start=None, end=None, timeframe="5m", params={"fast": 2, "slow": 5},
        dataset_id=five, intrabar_dataset_id=minute,
    )  # fmt: skip

    no_stops = await api.client.post(B, headers=trader.headers, json=run_body)
    r = await api.client.post(
        B, headers=trader.headers, json={**run_body, "settings": {**settings, "stops": True}}
    )

    assert no_stops.status_code == 422 and "stops" in no_stops.text
    assert r.status_code == 202, r.text
    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    assert run["result"]["conventions"]["intrabar_candles"] == "1m"


# -- several symbols, warm-up before the range ------------------------------------------

OTHER = "BTCUSDT"


async def store_other(api: Api, n: int = 300) -> None:
    """Candles of a second symbol in the app's tick store (the first has 400)."""
    store = api.ctx.tickstore()
    await store.write_candles(candles(n, symbol=OTHER))
    await store.flush()
    await asyncio.sleep(0)


def several(symbols: list[str], **overrides: object) -> dict:
    out = body(symbols=symbols, **overrides)
    del out["symbol"]
    return out


async def test_a_run_on_several_symbols_reports_them_as_one_portfolio(api):
    await store_other(api)
    trader = await api.trader()

    r = await api.client.post(B, headers=trader.headers, json=several([SYMBOL, OTHER]))

    assert r.status_code == 202, r.text
    assert (r.json()["symbol"], r.json()["symbols"]) == (SYMBOL, [SYMBOL, OTHER])
    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    assert run["bars"] == 700
    result = run["result"]
    card = result["run_card"]
    assert card["symbol"] == [SYMBOL, OTHER]
    assert [s["bars"] for s in card["per_symbol"]] == [400, 300]
    assert {t["symbol"] for t in result["trades"]} == {SYMBOL, OTHER}
    assert result["equity"][0]["equity"] == 200_000.0  # each symbol its own 100,000
    assert result["metrics"]["initial_equity"] == "200000.00000000"


async def test_one_symbol_given_as_a_list_runs_as_symbol_does(api):
    trader = await api.trader()

    one = await api.client.post(B, headers=trader.headers, json=several([SYMBOL]))
    plain = await api.client.post(B, headers=trader.headers, json=body())

    first = await finished(api, trader.headers, one.json()["id"])
    second = await finished(api, trader.headers, plain.json()["id"])
    assert first["result"]["trades"] == second["result"]["trades"]
    assert first["result"]["run_card"]["data_hash"] == second["result"]["run_card"]["data_hash"]
    assert first["symbols"] == second["symbols"] == [SYMBOL]


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (lambda b: b | {"symbols": [SYMBOL, OTHER]}, "exactly one of the two"),
        (lambda b: {k: v for k, v in b.items() if k != "symbol"}, "exactly one of the two"),
        (lambda b: several([]), "at least 1 item"),
        (lambda b: several([SYMBOL, "NOT A SYMBOL"]), "symbols.1"),
        (lambda b: several([f"S{i}" for i in range(21)]), "at most 20 items"),
        (lambda b: several([SYMBOL, SYMBOL]), "must not repeat an instrument (SOLUSDT)"),
        (lambda b: several([SYMBOL, "TCS"]), "no 1m candles of TCS"),
        (
            lambda b: several([SYMBOL, "TCS"], sweep={"grid": {"fast": [3, 5]}}),
            "no 1m candles of TCS",
        ),
    ],
    ids=[
        "both",
        "neither",
        "empty list",
        "bad symbol",
        "too many",
        "repeated",
        "one without data",
        "sweep, one without data",
    ],
)
async def test_symbols_are_checked_when_submitted(api, change, text):
    await store_other(api)
    trader = await api.trader()

    r = await api.client.post(B, headers=trader.headers, json=change(body()))

    assert r.status_code == 422, r.text
    assert text in r.text
    assert (await api.client.get(B, headers=trader.headers)).json()["total"] == 0


async def test_the_bar_limit_counts_the_bars_of_every_symbol(api):
    trader = await api.trader()
    end = (START + timedelta(minutes=60_000)).isoformat()  # within 100,000 bars for one

    two = await api.client.post(B, headers=trader.headers, json=several([SYMBOL, OTHER], end=end))
    one = await api.client.post(B, headers=trader.headers, json=several([SYMBOL], end=end))

    assert two.status_code == 422, two.text
    assert "100,000 1m bars over 2 symbols (the per-run limit)" in two.text
    assert one.status_code == 202, one.text


async def test_a_range_reads_the_candles_before_its_start_as_warmup(api):
    trader = await api.trader()
    start = START + timedelta(minutes=80)  # the averages cross down on this bar's close

    r = await api.client.post(B, headers=trader.headers, json=body(start=start.isoformat()))

    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    assert run["bars"] == 320
    result = run["result"]
    assert (result["run_card"]["first_bar"], result["run_card"]["warmup_bars"]) == (
        "2025-01-06T01:20:00Z",
        20,
    )
    first = result["trades"][0]
    assert (first["side"], first["entry_time"]) == ("SELL", "2025-01-06T01:21:00Z")
    assert result["equity"][0]["time"] == "2025-01-06T01:20:00Z"

"""REST sweeps and walk-forward runs over several symbols (each grid point, each fold, one
portfolio run over all of them), and uploaded candles of several symbols (dataset_ids)."""

from __future__ import annotations

from typing import Any

import pytest

from analytics_service.backtest import BacktestRequest, bars_from_candles
from analytics_service.backtest.portfolio import SymbolData
from analytics_service.backtest.report import jsonable
from analytics_service.backtest.sweep import run_sweep, sweep_result
from shared.contracts import Timeframe
from tests.analytics_service.test_api_backtests import (
    OTHER,
    Parked,
    api,  # noqa: F401 (the fixture)
    finished,
    several,
    store_other,
)
from tests.analytics_service.walk_backtests import SYMBOL, candles, csv_text, upload
from tests.api_gateway.route_walk import R

B = f"{R}/backtests"
GRID = {"fast": [3, 5], "slow": [10, 20]}


def in_process(run: dict[str, Any], other_bars: int) -> dict[str, Any]:
    """The same sweep here, one point after the other, on the same candles of both."""
    request = BacktestRequest.model_validate(run["request"]["request"])
    data = [
        SymbolData(bars_from_candles(SYMBOL, Timeframe.M1, candles())),
        SymbolData(bars_from_candles(OTHER, Timeframe.M1, candles(other_bars, symbol=OTHER))),
    ]
    sweep = run["request"]["sweep"]
    ranked, refused = run_sweep(request, data, sweep["grid"], rank_by=sweep["rank_by"])
    out: dict[str, Any] = jsonable(sweep_result(ranked, refused, sweep["rank_by"]))
    return out


async def test_a_sweep_over_several_symbols_ranks_their_portfolio_runs(api):  # noqa: F811
    await store_other(api)
    trader = await api.trader()
    sweep = {"grid": GRID, "rank_by": "net_pnl"}

    r = await api.client.post(B, headers=trader.headers, json=several([SYMBOL, OTHER], sweep=sweep))

    assert r.status_code == 202, r.text
    assert r.json()["symbols"] == [SYMBOL, OTHER]
    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    assert run["bars"] == 700
    assert run["result"] == in_process(run, 300)


async def test_a_walk_forward_over_several_symbols_trades_each_fold_on_all(api):  # noqa: F811
    await store_other(api, 400)
    trader = await api.trader()
    wf = {"folds": 2, "out_of_sample": 0.5}

    r = await api.client.post(
        B,
        headers=trader.headers,
        json=several([SYMBOL, OTHER], walk_forward=wf, sweep={"grid": GRID}),
    )

    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    result = run["result"]
    assert result["run_card"]["symbol"] == [SYMBOL, OTHER]
    assert [s["bars"] for s in result["run_card"]["per_symbol"]] == [200, 200]
    windows = result["walk_forward"]["windows"]
    assert [w["out_of_sample"]["bars"] for w in windows] == [100, 100]
    assert {t["symbol"] for t in result["trades"]} == {SYMBOL, OTHER}
    assert result["metrics"]["initial_equity"] == "200000.00000000"


async def test_a_walk_forward_window_a_symbol_has_no_bars_in_fails_saying_so(api):  # noqa: F811
    await store_other(api, 300)  # ends where the second out-of-sample window starts
    trader = await api.trader()

    r = await api.client.post(
        B,
        headers=trader.headers,
        json=several([SYMBOL, OTHER], walk_forward={"folds": 2, "out_of_sample": 0.5}),
    )

    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "failed", run
    assert run["error"] == (
        f"{OTHER} has 0 bars in fold 2's out-of-sample window; it needs 2 or more"
    )


async def _two_datasets(api, trader) -> tuple[dict, dict]:  # noqa: F811
    first = await upload(api.client, trader)
    second = await upload(api.client, trader, csv_text(n=300), symbol=OTHER)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    return first.json(), second.json()


def uploaded(ids: list[int], **overrides: Any) -> dict[str, Any]:
    return several([SYMBOL, OTHER], **{"start": None, "end": None, "dataset_ids": ids, **overrides})


async def test_uploaded_candles_of_several_symbols_run_as_one_portfolio(api):  # noqa: F811
    trader = await api.trader()
    first, second = await _two_datasets(api, trader)

    plain = await api.client.post(
        B, headers=trader.headers, json=uploaded([first["id"], second["id"]])
    )
    sweep = await api.client.post(
        B,
        headers=trader.headers,
        json=uploaded([first["id"], second["id"]], sweep={"grid": GRID, "rank_by": "net_pnl"}),
    )

    assert plain.status_code == sweep.status_code == 202, (plain.text, sweep.text)
    run = await finished(api, trader.headers, plain.json()["id"])
    assert run["status"] == "done", run
    card = run["result"]["run_card"]
    assert [(s["symbol"], s["bars"]) for s in card["per_symbol"]] == [(SYMBOL, 400), (OTHER, 300)]
    assert [s["data_hash"] for s in card["per_symbol"]] == [
        first["data_hash"],
        second["data_hash"],
    ]
    swept = await finished(api, trader.headers, sweep.json()["id"])
    assert swept["status"] == "done", swept
    assert swept["result"] == in_process(swept, 300)


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (lambda a, b: uploaded([a]), "dataset_ids: give one uploaded dataset per symbol"),
        (lambda a, b: uploaded([b, a]), f"holds 1m candles of {OTHER}, not 1m candles of {SYMBOL}"),
        (lambda a, b: uploaded([a, b], dataset_id=a), "dataset_id (one symbol) or dataset_ids"),
        (
            lambda a, b: uploaded([a, b], start="2025-01-06T00:00:00Z"),
            "or dataset_ids, not both",
        ),
        (
            lambda a, b: uploaded([a, b], intrabar_dataset_id=a),
            "intrabar_dataset_id goes with dataset_id",
        ),
        (
            lambda a, b: several([SYMBOL, OTHER], start=None, end=None, dataset_id=a),
            "dataset_id: give one uploaded dataset per symbol",
        ),
        (lambda a, b: uploaded([]), "at least 1 item"),
        (lambda a, b: uploaded([a, "x"]), "dataset_ids.1"),
    ],
    ids=[
        "fewer than symbols",
        "order",
        "both fields",
        "and a range",
        "finer candles",
        "dataset_id for two",
        "empty",
        "not an id",
    ],
)
async def test_dataset_ids_are_checked_when_submitted(api, change, text):  # noqa: F811
    trader = await api.trader()
    first, second = await _two_datasets(api, trader)

    r = await api.client.post(B, headers=trader.headers, json=change(first["id"], second["id"]))

    assert r.status_code == 422, r.text
    assert text in r.text
    assert (await api.client.get(B, headers=trader.headers)).json()["total"] == 0


async def test_a_dataset_of_another_timeframe_among_several_is_refused(api):  # noqa: F811
    trader = await api.trader()
    first = (await upload(api.client, trader)).json()["id"]
    five = (await upload(api.client, trader, csv_text(n=300), symbol=OTHER, timeframe="5m")).json()

    r = await api.client.post(B, headers=trader.headers, json=uploaded([first, five["id"]]))

    assert r.status_code == 422, r.text
    assert f"holds 5m candles of {OTHER}, not 1m candles of {OTHER}" in r.text


async def test_another_users_dataset_among_several_is_not_found(api):  # noqa: F811
    owner, intruder = await api.trader(), await api.trader()
    theirs = (await upload(api.client, owner, csv_text(n=300), symbol=OTHER)).json()["id"]
    mine = (await upload(api.client, intruder)).json()["id"]

    r = await api.client.post(B, headers=intruder.headers, json=uploaded([mine, theirs]))

    assert r.status_code == 404, r.text
    assert (await api.client.get(B, headers=intruder.headers)).json()["total"] == 0


async def test_a_dataset_among_several_read_by_an_active_run_cannot_be_deleted(api):  # noqa: F811
    api.ctx.backtest_launcher = Parked()
    trader = await api.trader()
    first, second = await _two_datasets(api, trader)
    r = await api.client.post(B, headers=trader.headers, json=uploaded([first["id"], second["id"]]))
    assert r.status_code == 202, r.text

    busy = await api.client.delete(f"{R}/backtest-data/{second['id']}", headers=trader.headers)

    assert busy.status_code == 409, busy.text

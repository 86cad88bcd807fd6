"""REST look-ahead check (``check_lookahead``): the command line's check over REST, per fold
in a walk-forward run. Embedded only: the test plug-ins are registered in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.analytics_service.backtest.lookahead_plugins import turn_plugins  # noqa: F401
from tests.analytics_service.test_api_backtests import finished
from tests.analytics_service.test_api_sweeps import gateway
from tests.analytics_service.walk_backtests import SYMBOL, body
from tests.api_gateway.conftest import Api
from tests.api_gateway.route_walk import R

B = f"{R}/backtests"
SKIPS = "the scan skips this bar on cut data"


@pytest.fixture
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    async for built in gateway(request, tmp_path, "sqlite", backtest_sweep_processes=1):
        yield built


async def _run(api: Api, **overrides: object) -> dict:
    trader = await api.trader()
    r = await api.client.post(B, headers=trader.headers, json=body(**overrides))
    assert r.status_code == 202, r.text
    run = await finished(api, trader.headers, r.json()["id"])
    assert run["status"] == "done", run
    return run["result"]


async def test_a_strategy_that_reads_only_the_past_has_no_findings(api, turn_plugins):  # noqa: F811
    clean, _ = turn_plugins

    result = await _run(api, strategy=clean, params={}, check_lookahead=True)

    assert result["trades"]
    assert result["lookahead"] == []


async def test_a_scan_that_peeks_at_the_next_bar_is_reported(api, turn_plugins):  # noqa: F811
    _, peeking = turn_plugins

    result = await _run(api, strategy=peeking, params={}, check_lookahead=True)

    found = result["lookahead"]
    assert found, result["trades"]
    assert {f["symbol"] for f in found} == {SYMBOL}
    assert all(f["problem"] == SKIPS and "fold" not in f for f in found)
    assert len(found) == result["signals"]  # every signal was a bar the scan kept by peeking


async def test_a_walk_forward_run_is_checked_fold_by_fold(api, turn_plugins):  # noqa: F811
    clean, peeking = turn_plugins
    wf = {"folds": 2, "out_of_sample": 0.5}

    bad = await _run(api, strategy=peeking, params={}, walk_forward=wf, check_lookahead=True)
    good = await _run(api, strategy=clean, params={}, walk_forward=wf, check_lookahead=True)

    assert {f["fold"] for f in bad["lookahead"]} == {1, 2}
    assert all(f["problem"] == SKIPS for f in bad["lookahead"])
    assert good["lookahead"] == []


async def test_without_the_flag_there_is_no_check(api, turn_plugins):  # noqa: F811
    _, peeking = turn_plugins

    result = await _run(api, strategy=peeking, params={})

    assert "lookahead" not in result


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"sweep": {"grid": {"fast": [3, 5]}}}, "check_lookahead goes with a backtest"),
        ({"check_lookahead": "maybe"}, "check_lookahead"),
    ],
    ids=["sweep", "not a boolean"],
)
async def test_the_flag_is_checked_when_submitted(api, overrides, text):
    trader = await api.trader()

    r = await api.client.post(
        B, headers=trader.headers, json=body(**{"check_lookahead": True, **overrides})
    )

    assert r.status_code == 422, r.text
    assert text in r.text
    assert (await api.client.get(B, headers=trader.headers)).json()["total"] == 0

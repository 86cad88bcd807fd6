"""A sweep on a process pool shared by many sweeps: the same ranking as one point after the
other, and a sweep stopped midway leaves the points it had not sent unrun."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest

from analytics_service.backtest import BacktestCancelled
from analytics_service.backtest.sweep import run_sweep
from bench.backtest import synthetic_bars
from tests.analytics_service.backtest.factories import request

GRID = {"fast": [3, 5, 8, 13], "slow": [20, 30, 50]}


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as executor:
        yield executor


def test_a_sweep_on_a_shared_pool_ranks_as_one_point_after_the_other(pool):
    data = synthetic_bars(3_000)
    base = request({"fast": 5, "slow": 20})

    alone, refused = run_sweep(base, data, GRID, rank_by="sharpe")
    pooled, refused_pooled = run_sweep(
        base, data, GRID, rank_by="sharpe", executor=pool, processes=2
    )

    assert [(p.params, p.summary) for p in pooled] == [(p.params, p.summary) for p in alone]
    assert refused_pooled == refused == 0


def test_a_pooled_sweep_stopped_midway_drops_the_chunks_not_started(pool):
    data = synthetic_bars(3_000)
    told = []

    def stop_after_first(done: int, total: int) -> None:
        told.append(done)
        raise BacktestCancelled("stopped")

    with pytest.raises(BacktestCancelled):
        run_sweep(
            request({"fast": 5, "slow": 20}), data, GRID, executor=pool, processes=1,
            on_point=stop_after_first,
        )  # fmt: skip

    assert told == [3]  # 12 points in 4 chunks of 3: told once, after the first chunk
    pooled, _ = run_sweep(request(), data, {"fast": [2], "slow": [3]}, executor=pool)
    assert len(pooled) == 1  # the pool is still usable

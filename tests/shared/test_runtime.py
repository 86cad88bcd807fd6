"""Process tuning of the entry points: the collector's thresholds and the frozen start-up heap."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.runtime import COLLECTOR_THRESHOLDS, freeze_startup_heap, tune_collector


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector")
def test_freeze_moves_the_live_heap_out_of_the_generations() -> None:
    gc.unfreeze()
    kept = [object() for _ in range(10)]  # noqa: F841 - alive through the freeze
    freeze_startup_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_count()[0] < 100  # the young generation starts empty


@pytest.mark.usefixtures("collector")
def test_tune_collector_freezes_and_raises_the_thresholds() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    tune_collector()
    assert gc.get_threshold() == COLLECTOR_THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert COLLECTOR_THRESHOLDS[0] > 700  # fewer young collections than the default

"""The Backtests page in headless Chromium, at 1366x768 and 390x844.

One browser run (tests/web/backtests.mjs) against the embedded platform: a trader runs two
backtests from the page, reads their reports side by side and subscribes with one run's
parameters; each test checks one behaviour from its transcript.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.browser import ARTIFACTS, Run, run_script

SCRIPT = Path(__file__).with_name("backtests.mjs")
SIZES = ["1366x768", "390x844"]


@pytest.fixture(scope="module")
def run(platform: str) -> Run:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return run_script(SCRIPT, {"BASE_URL": platform, "ARTIFACTS": str(ARTIFACTS)}, timeout=300)


def test_the_browser_run_completes_every_step(run: Run) -> None:
    assert run.returncode == 0, "\n".join(run.lines)
    assert run.lines[-1] == "DONE"


def test_a_run_from_the_form_finishes_and_its_report_opens(run: Run) -> None:
    run.line("RUN_DONE")
    points, trades = run.line("REPORT").split(", ")
    assert int(points.split()[0]) >= 2
    assert int(trades.split()[0]) >= 1  # a trade, or the row saying there is none
    figures = set(run.line("FIGURES").split(", "))
    assert {"Total return", "Sharpe", "Max drawdown", "Win rate", "Profit factor"} <= figures


def test_two_runs_sit_side_by_side_on_a_wide_screen(run: Run) -> None:
    cards = run.line("SIDE_BY_SIDE").split()
    assert len(cards) == 2
    lefts = [int(c.split("@")[1]) for c in cards]
    assert lefts[0] != lefts[1]


def test_subscribing_starts_from_the_runs_parameters(run: Run) -> None:
    assert run.line("SUBSCRIBE_FORM") == "BTCUSDT 15m fast=8"
    assert run.line("SUBSCRIBED") == "ma_crossover BTCUSDT 15m fast=8"


def test_a_run_sits_beside_the_live_results_of_its_subscription(run: Run) -> None:
    shown = run.line("COMPARE_LIVE")
    head, trips = shown.split(": ")
    assert head.startswith("run ") and " of subscription " in head
    live, backtest = trips.removeprefix("round trips ").split(", ")
    assert live == "live 0"  # the subscription has just started
    assert backtest.startswith("backtest ") and backtest != "backtest -"


def test_the_page_never_scrolls_sideways_and_screenshots_are_saved(run: Run) -> None:
    layouts = run.all("LAYOUT")
    assert len(layouts) == 2 * len(SIZES)  # the reports, then with the live comparison
    assert all(line.endswith("overflow=0") for line in layouts), layouts
    for size in SIZES:
        for name in (f"backtests-{size}.png", f"backtests-compare-{size}.png"):
            data = (ARTIFACTS / name).read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name


def test_the_page_raises_no_uncaught_errors(run: Run) -> None:
    run.line("NO_PAGE_ERRORS")

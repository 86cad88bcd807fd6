"""The Performance page in headless Chromium, at 1366x768 and 390x844.

One browser run (tests/web/performance.mjs) against the embedded platform: a trader with a
closed round trip and a subscription opens the page; each test checks one behaviour from
its transcript. Screenshots go to ``tests/web/artifacts`` like the other pages'.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.browser import ARTIFACTS, Run, run_script

SCRIPT = Path(__file__).with_name("performance.mjs")
SIZES = ["1366x768", "390x844"]


@pytest.fixture(scope="module")
def run(platform: str) -> Run:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return run_script(SCRIPT, {"BASE_URL": platform, "ARTIFACTS": str(ARTIFACTS)}, timeout=360)


def test_the_browser_run_completes_every_step(run: Run) -> None:
    assert run.returncode == 0, "\n".join(run.lines)
    assert run.lines[-1] == "DONE"


def test_the_account_report_shows_its_curve_figures_months_and_closed_trade(run: Run) -> None:
    assert run.line("SCOPE").startswith("account:")
    assert run.line("CLOSED_TRADE") == "BTCUSDT"
    points, canvases = run.line("EQUITY_CURVE").split(", ")
    assert int(points.split()[0]) >= 2
    assert int(canvases.split()[0]) >= 2  # the equity and the drawdown panes
    figures = set(run.line("FIGURES").split(", "))
    assert {"Total return", "Sharpe", "Max drawdown", "Win rate", "Profit factor"} <= figures
    assert {"Sortino", "Calmar", "Expectancy", "Charges paid", "Best trade"} <= figures
    assert int(run.line("MONTHLY")) >= 1


def test_a_subscriptions_report_opens(run: Run) -> None:
    assert run.line("SUBSCRIPTION_REPORT") == "No round trip closed in this range."


def test_the_trade_chart_marks_the_fills_and_a_new_fill_live(run: Run) -> None:
    fills, markers = run.line("FILL_MARKS").split(", ")
    assert int(fills.split()[0]) >= 2 and int(markers.split()[0]) >= 1
    before, after = (int(n) for n in run.line("FILL_MARKED_LIVE").split(" -> "))
    assert after == before + 1


def test_a_subscriptions_live_results_sit_beside_a_backtest_of_the_same_period(
    run: Run,
) -> None:
    shown = run.line("LIVE_VS_BACKTEST")
    assert shown.startswith("run ") and "round trips live 0 backtest " in shown
    assert not shown.endswith("backtest -")


def test_the_page_never_scrolls_sideways_and_screenshots_are_saved(run: Run) -> None:
    layouts = run.all("LAYOUT")
    assert len(layouts) == 2 * len(SIZES)  # the report, then with the comparison
    assert all(line.endswith("overflow=0") for line in layouts), layouts
    for size in SIZES:
        for name in (f"performance-{size}.png", f"performance-compare-{size}.png"):
            data = (ARTIFACTS / name).read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name


def test_the_page_raises_no_uncaught_errors(run: Run) -> None:
    run.line("NO_PAGE_ERRORS")

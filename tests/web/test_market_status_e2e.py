"""Market status in the dashboard (tests/web/market_status.mjs in headless Chromium).

The browser answers ``GET /market/status`` from a fixed document and plays the socket,
so what is shown does not depend on the hour: NSE closed for the weekend, BINANCE open,
NASDAQ closed for a holiday; then a ``status`` frame opens NSE.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.browser import Run, run_script

SCRIPT = Path(__file__).with_name("market_status.mjs")


@pytest.fixture(scope="module")
def run(platform: str) -> Run:
    return run_script(SCRIPT, {"BASE_URL": platform}, timeout=120)


def test_the_browser_run_completes_every_step(run: Run) -> None:
    assert run.returncode == 0, "\n".join(run.lines)
    assert run.lines[-1] == "DONE"


def test_the_header_has_a_badge_per_exchange(run: Run) -> None:
    assert run.line("BADGES") == "BINANCE open|NASDAQ closed|NSE closed"
    assert run.line("BADGE_TITLE") == "NSE is closed (weekend); it opens Mon 07 Dec 09:15 IST"


def test_the_watchlist_says_when_a_closed_market_opens(run: Run) -> None:
    assert run.line("WATCHLIST_RELIANCE") == "closed, opens Mon 09:15 IST"
    assert run.line("WATCHLIST_BTCUSDT_NOTES") == "0"


def test_the_chart_and_the_ticket_say_it_for_the_selected_symbol(run: Run) -> None:
    assert run.line("CHART_RELIANCE") == "NSE closed, opens Mon 09:15 IST"
    assert run.line("TICKET_RELIANCE") == "NSE closed, opens Mon 09:15 IST"
    assert run.line("CHART_BTCUSDT_NOTES") == "0"
    assert run.line("TICKET_BTCUSDT_NOTES") == "0"


def test_a_status_frame_updates_the_badges_and_notes(run: Run) -> None:
    assert run.line("NSE_OPENED") == "0"

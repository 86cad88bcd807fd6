"""Alerts in the dashboard in headless Chromium, at 1366x768 and 390x844.

One browser run (tests/web/alerts.mjs) against the embedded platform: the header's bell,
the Alerts page (history, filters, mark read, statistics), the notification settings (a
channel saved, a test sent, a refused webhook) and price alerts set from the watchlist and
the chart; each test checks one behaviour from its transcript.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.web.browser import ARTIFACTS, Run, run_script

SCRIPT = Path(__file__).with_name("alerts.mjs")
SIZES = ["1366x768", "390x844"]


@pytest.fixture(scope="module")
def run(platform: str) -> Run:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return run_script(SCRIPT, {"BASE_URL": platform, "ARTIFACTS": str(ARTIFACTS)}, timeout=240)


def test_the_browser_run_completes_every_step(run: Run) -> None:
    assert run.returncode == 0, "\n".join(run.lines)
    assert run.lines[-1] == "DONE"


def test_the_bell_counts_a_new_alert_without_a_reload(run: Run) -> None:
    before, after = (int(n) for n in run.line("BELL_LIVE").split(" -> "))
    assert after >= before + 1


def test_the_history_filters_and_marks_read(run: Run) -> None:
    assert "BTCUSDT" in run.line("HISTORY")
    assert run.line("FILTER_SEVERITY") == "CRITICAL 0"
    counts, bell = run.line("MARKED_ONE").split(" unread, ")
    assert bell.startswith("bell ")
    before, after = (int(n) for n in counts.split(" -> "))
    assert after == before - 1
    assert run.line("MARKED_ALL") == "bell 0, count shown 0"


def test_the_statistics_count_the_alerts_by_kind(run: Run) -> None:
    total, kinds = run.line("STATISTICS").split(", kinds ")
    assert int(total.split()[1]) >= 1
    assert "order_filled" in kinds.split(",")


def test_a_channel_is_saved_with_its_severities_and_kinds_and_a_test_is_sent(run: Run) -> None:
    # INFO and ERROR unticked: WARNING and CRITICAL stay on, with a gap between them.
    assert run.line("CHANNEL_SAVED") == "websocket WARNING,CRITICAL kill_switch default=false"
    assert run.line("CHANNEL_TEST") == "sent"
    before, after = (int(n) for n in run.line("BELL_AFTER_TEST").split(" -> "))
    assert after == before + 1


def test_a_webhook_to_a_loopback_address_is_refused_with_the_field_outlined(run: Run) -> None:
    message, outlined = run.line("WEBHOOK_REFUSED").split(" | ")
    assert message
    assert outlined == "outlined 1"


def test_price_alerts_are_set_from_the_watchlist_and_the_chart(run: Run) -> None:
    target = Decimal(run.line("PRICE_TARGET"))
    listed = run.line("PRICE_ALERTS").split(" | ")
    assert "BTCUSDT moves 5% within 10 min" in listed
    above = [c.removeprefix("BTCUSDT crosses above ") for c in listed if "above" in c]
    assert [Decimal(p) for p in above] == [target]
    assert run.line("PRICE_ALERTS_STORED") == (
        "BTCUSDT crosses_above once from the watchlist | BTCUSDT moves_pct repeating -"
    )


def test_the_page_never_scrolls_sideways_and_screenshots_are_saved(run: Run) -> None:
    layouts = run.all("LAYOUT")
    assert len(layouts) == len(SIZES) + 1  # the page at both sizes, the dialog on a phone
    assert all(line.endswith("overflow=0") for line in layouts), layouts
    run.line("NO_SIDEWAYS_SCROLL")
    for name in [f"alerts-{size}.png" for size in SIZES] + ["price-alert-dialog-390x844.png"]:
        data = (ARTIFACTS / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name


def test_the_page_follows_the_dark_theme(run: Run) -> None:
    assert run.line("DARK") == "rgb(17, 24, 39)"  # the dark theme's card colour


def test_the_pages_raise_no_uncaught_errors(run: Run) -> None:
    run.line("NO_PAGE_ERRORS")

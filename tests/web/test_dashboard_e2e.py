"""The dashboard end to end: the real embedded platform, driven in headless Chromium.

One browser run (tests/web/e2e.mjs, playwright-core from web/node_modules) walks a
trader through sign-up, sign-out, a failed and a good sign-in, creating a paper broker
account, subscribing to a strategy through its schema form, live frames (stale order
events dropped) and a screenshot, then an admin through the users list. It prints
one line per step; each test below checks one behaviour from that transcript.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.web.browser import Run, run_script

SCRIPT = Path(__file__).with_name("e2e.mjs")
STARTING_CAPITAL_SHOWN = "1,00,000.00 INR"  # the script enters 100000 INR


@dataclass(frozen=True)
class Dashboard:
    run: Run
    screenshot: Path

    def line(self, step: str) -> str:
        return self.run.line(step)

    @property
    def returncode(self) -> int:
        return self.run.returncode

    @property
    def lines(self) -> list[str]:
        return self.run.lines


@pytest.fixture(scope="module")
def run(platform: str, tmp_path_factory: pytest.TempPathFactory) -> Dashboard:
    """Drive the browser once; the tests read its transcript."""
    out = tmp_path_factory.mktemp("browser")
    screenshot = out / "dashboard.png"
    env = {
        "BASE_URL": platform,
        "PROFILE_DIR": str(out / "profile"),
        "SCREENSHOT": str(screenshot),
    }
    return Dashboard(run_script(SCRIPT, env, timeout=120), screenshot)


def test_the_browser_run_completes_every_step(run: Dashboard) -> None:
    assert run.returncode == 0, "\n".join(run.lines)
    assert run.lines[-1] == "DONE"


def test_a_new_trader_signs_up_and_lands_on_the_dashboard(run: Dashboard) -> None:
    assert run.line("SIGNED_UP").startswith("trader-")


def test_signing_out_returns_to_the_sign_in_page(run: Dashboard) -> None:
    assert run.line("SIGNED_OUT") == "You have signed out."


def test_a_wrong_password_shows_the_api_message(run: Dashboard) -> None:
    assert run.line("LOGIN_ERROR") == "incorrect e-mail or password"


def test_the_trader_signs_in_and_sees_their_name_and_watchlist(run: Dashboard) -> None:
    assert run.line("SIGNED_IN") == "Asha Trader"
    assert int(run.line("WATCHLIST")) >= 1
    run.line("CHART")


def test_tokens_are_kept_out_of_local_storage(run: Dashboard) -> None:
    run.line("TOKENS_IN_SESSION_STORAGE_ONLY")


def test_a_created_paper_account_is_listed_and_selected(run: Dashboard) -> None:
    label, _, capital = run.line("ACCOUNT_CREATED").partition(" | ")
    assert label == "E2E paper"
    assert capital == STARTING_CAPITAL_SHOWN
    assert run.line("ACCOUNT_SELECTED").startswith("E2E paper")


def test_strategy_parameters_are_a_form_with_the_schema_titles(run: Dashboard) -> None:
    labels = run.line("SCHEMA_FORM").split(", ")
    assert {"Fast", "Slow", "Risk fraction", "ATR period", "MA type"} <= set(labels)


def test_a_subscription_sends_the_entered_and_decimal_parameters(run: Dashboard) -> None:
    assert run.line("SUBSCRIBED") == 'ma_crossover | fast=12 | risk_fraction="0.01" | active'


def test_a_reload_keeps_the_tab_signed_in(run: Dashboard) -> None:
    run.line("RELOAD_KEEPS_SESSION")


def test_live_ticks_and_order_events_update_the_page(run: Dashboard) -> None:
    assert run.line("LIVE_TICK") == "2,501.35"
    assert run.line("LIVE_ORDER") == "PARTIALLY_FILLED"


def test_an_order_event_not_newer_than_the_held_one_is_dropped(run: Dashboard) -> None:
    assert run.line("STALE_ORDER_EVENT_DROPPED") == "FILLED"


def test_the_admin_sees_the_new_trader_in_the_users_list(run: Dashboard) -> None:
    assert run.line("ADMIN_SEES_USER") == run.line("SIGNED_UP")


def test_the_page_raises_no_uncaught_errors(run: Dashboard) -> None:
    run.line("NO_PAGE_ERRORS")


def test_a_screenshot_of_the_dashboard_is_saved(run: Dashboard) -> None:
    assert Path(run.line("SCREENSHOT")) == run.screenshot
    data = run.screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a rendered page, not a blank one

"""Every dashboard page and flow in headless Chromium, at 1366x768 and 390x844.

One browser run (tests/web/pages.mjs) against the embedded platform walks a trader and
an admin through the pages; each test checks one behaviour from its transcript. The
screenshots of every page at both sizes are kept in ``tests/web/artifacts`` (git-ignored;
``WEB_ARTIFACTS`` moves them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.browser import ARTIFACTS, Run, run_script

SCRIPT = Path(__file__).with_name("pages.mjs")
TRADER_PAGES = ["trade", "tradebook", "strategies", "accounts", "profile"]
SIZES = ["1366x768", "390x844"]


@pytest.fixture(scope="module")
def run(platform: str) -> Run:
    """Drive the browser once; the tests read its transcript."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return run_script(SCRIPT, {"BASE_URL": platform, "ARTIFACTS": str(ARTIFACTS)}, timeout=300)


def test_the_browser_run_completes_every_step(run: Run) -> None:
    assert run.returncode == 0, "\n".join(run.lines)
    assert run.lines[-1] == "DONE"


def test_no_page_scrolls_sideways_at_either_size(run: Run) -> None:
    layouts = run.all("LAYOUT")
    assert len(layouts) == (len(TRADER_PAGES) + 1) * len(SIZES)  # the admin page too
    assert all(line.endswith("overflow=0") for line in layouts), layouts
    assert run.all("SIDEWAYS_SCROLL") == []
    assert len(run.all("NO_SIDEWAYS_SCROLL")) == 2


def test_status_cancel_unrealised_and_close_stay_inside_their_card(run: Run) -> None:
    assert run.all("KEY_CELLS_CUT") == []
    assert len(run.all("KEY_CELLS_IN_CARD")) == 2


def test_screenshots_of_every_page_at_both_sizes_are_saved(run: Run) -> None:
    run.line("NO_SIDEWAYS_SCROLL")
    names = [f"{page}-{size}.png" for page in TRADER_PAGES for size in SIZES]
    names += [f"admin-admin-{size}.png" for size in SIZES]
    names += [f"dark-trade-{size}.png" for size in SIZES]
    for name in names:
        data = (ARTIFACTS / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name


def test_a_market_order_fills_and_a_limit_order_is_modified_then_cancelled(run: Run) -> None:
    assert run.line("MARKET_ORDER") in {"FILLED", "OPEN", "SUBMITTED"}
    assert run.line("LIMIT_ORDER") == "OPEN"
    assert run.line("MODIFIED") == "limit price changed"
    assert run.line("CANCELLED") == "CANCELLED"


def test_the_tradebook_lists_the_fill(run: Run) -> None:
    assert run.line("TRADEBOOK") == "BTCUSDT 0.01"


def test_a_position_is_closed_from_its_row(run: Run) -> None:
    run.line("POSITION_CLOSED")


def test_strategies_and_parameters_carry_human_titles(run: Run) -> None:
    assert run.line("STRATEGY_TITLE") == "Moving-average crossover"
    labels = set(run.line("PARAM_LABELS").split(", "))
    assert {"ATR period", "MA type", "Reward/risk ratio", "Risk fraction"} <= labels


def test_live_mode_is_not_offered_for_a_paper_account(run: Run) -> None:
    assert run.line("MODES") == "paper"


def test_an_unknown_symbol_is_reported_once(run: Run) -> None:
    assert run.line("UNKNOWN_SYMBOL_SHOWN") == "1"
    assert run.line("SUBSCRIBED") == "Moving-average crossover"


def test_a_halt_survives_a_reload_and_subscriptions_show_it(run: Run) -> None:
    assert run.line("HALT_SURVIVES_RELOAD") == "HALTED"
    assert run.line("SUBSCRIPTION_HALTED") == "halted"
    assert run.line("RESUMED") == "HALT TRADING"


def test_the_dark_theme_follows_the_system_and_the_users_choice(run: Run) -> None:
    dark, light = run.line("SYSTEM_DARK"), run.line("SYSTEM_LIGHT")
    assert dark != light
    assert run.line("THEME_DARK") == dark


def test_preferences_live_on_the_server_not_in_the_browser(run: Run) -> None:
    assert run.line("LOCAL_STORAGE_KEYS") == "none"
    assert run.line("PREFERENCES_FOLLOW_USER") == "dark BTCUSDT"


def test_a_symbol_chosen_before_the_preferences_arrive_sticks_and_keeps_them(run: Run) -> None:
    """Chosen while the saved preferences were still on their way: the late answer does not
    undo the choice, and the write does not put the defaults over the saved theme."""
    chosen, watchlist = run.line("EARLY_CHOICE_KEPT").split()
    assert chosen == "TCS"
    assert watchlist.split(",")[:1] == ["RELIANCE"]


def test_the_admin_halts_everyone_readably_and_the_reason_field_clears(run: Run) -> None:
    assert "Trading is running" in run.line("GLOBAL_STATE")
    halted = run.line("GLOBAL_HALTED")
    assert "HALTED" in halted and "e2e maintenance" in halted and "{" not in halted
    assert run.line("REASON_CLEARED") == '""'
    assert "halted by an administrator" in run.line("TRADER_SEES_GLOBAL_HALT")


def test_the_admin_page_follows_a_traders_own_halt_and_resume_without_a_reload(
    run: Run,
) -> None:
    assert run.line("ADMIN_SEES_USER_HALT_LIVE") == "the user"
    run.line("ADMIN_SEES_USER_RESUME_LIVE")


def test_the_admin_liquidates_and_halts_one_user(run: Run) -> None:
    run.line("LIQUIDATED")
    assert run.line("USER_HALT_REASON_CLEARED") == '""'
    seen = run.line("TRADER_SEES_ADMIN_HALT")
    assert seen.startswith("An administrator halted your trading") and "risk review" in seen
    assert seen.endswith("resume not offered")


def test_the_trader_sees_the_global_and_an_admins_halt_without_a_reload(run: Run) -> None:
    assert run.all("HALT_SEEN_WITHOUT_RELOAD") == ["global", "admin"]


def test_the_admin_reads_one_users_accounts_orders_positions_and_audit(run: Run) -> None:
    accounts, orders = run.line("USER_VIEW").split(", ")
    assert accounts == "accounts 1"
    assert int(orders.split()[1]) >= 3  # the trader's orders, the liquidation's among them


def test_the_layout_is_kept_on_the_server(run: Run) -> None:
    assert run.line("LAYOUT_KEPT") == "compact 0"


def test_recovery_codes_are_shown_once_and_one_signs_in(run: Run) -> None:
    assert run.line("RECOVERY_CODES_SHOWN") == "10"
    assert run.line("RECOVERY_CODES_LAYOUT") == "overflow=0"
    assert run.line("RECOVERY_SIGNED_IN") == "9"


def test_the_admin_changes_a_role_and_every_action_is_audited(run: Run) -> None:
    assert run.line("ROLE_CHANGED") == "admin"
    actions = run.line("USER_AUDIT").split(",")
    assert any("halt" in a for a in actions), actions
    assert any("role" in a for a in actions), actions


def test_two_factor_enrolment_shows_a_qr_code_and_sign_in_then_asks_for_the_code(
    run: Run,
) -> None:
    assert run.line("TOTP_QR") == "drawn"
    run.line("TOTP_ENABLED")
    assert run.line("TOTP_REQUIRED") == "a TOTP code is required"
    run.line("TOTP_SIGNED_IN")


def test_the_api_docs_render_with_no_internet(run: Run) -> None:
    assert int(run.line("DOCS_SWAGGER")) > 20
    assert run.line("DOCS_REDOC").startswith("algotrade")
    assert run.line("DOCS_OUTSIDE_REQUESTS") == "none"


def test_signing_out_everywhere_ends_the_session(run: Run) -> None:
    assert int(run.line("SESSIONS")) >= 1
    assert run.line("SIGNED_OUT_EVERYWHERE") == "You signed out everywhere."


def test_the_pages_raise_no_uncaught_errors(run: Run) -> None:
    run.line("NO_PAGE_ERRORS")

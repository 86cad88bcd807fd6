"""``algotrade orders``, ``positions`` and ``fills``: a user's book as the API shows it."""

from __future__ import annotations

import json


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_orders_table_lists_the_users_orders(cli):
    result = cli("orders", cli.book.trader_email)

    assert result.exit_code == 0, result.output
    assert f"Orders of {cli.book.trader_email}" in result.stdout
    assert "SOLUSDT" in result.stdout and "ETHUSDT" in result.stdout


def test_orders_json_is_the_apis_page_newest_first(cli):
    page = _json(cli("orders", str(cli.book.trader_id), "--json"))

    assert [o["id"] for o in page["items"]] == [cli.book.resting_order_id, cli.book.filled_order_id]
    assert page["total"] == 2
    assert page["items"][0]["limit_price"] == "3100"  # amounts as plain decimal strings


def test_orders_filter_by_status_and_symbol(cli):
    by_status = _json(cli("orders", cli.book.trader_email, "--status", "open", "--json"))
    by_symbol = _json(cli("orders", cli.book.trader_email, "--symbol", "solusdt", "--json"))

    assert [o["id"] for o in by_status["items"]] == [cli.book.resting_order_id]
    assert [o["id"] for o in by_symbol["items"]] == [cli.book.filled_order_id]


def test_orders_are_paged(cli):
    page = _json(cli("orders", cli.book.trader_email, "--limit", "1", "--offset", "1", "--json"))
    table = cli("orders", cli.book.trader_email, "--limit", "1")

    assert [o["id"] for o in page["items"]] == [cli.book.filled_order_id]
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert "next page: --offset 1" in table.stdout


def test_positions_json_shows_the_open_position(cli):
    page = _json(cli("positions", cli.book.trader_email, "--json"))

    [position] = page["items"]
    assert (position["symbol"], position["quantity"]) == ("SOLUSDT", "2")
    assert position["broker_account_id"] == cli.book.account_id


def test_positions_table(cli):
    result = cli("positions", cli.book.trader_email, "--account", str(cli.book.account_id))

    assert result.exit_code == 0, result.output
    assert "SOLUSDT" in result.stdout


def test_fills_json_filtered_by_order(cli):
    page = _json(
        cli("fills", cli.book.trader_email, "--order", str(cli.book.filled_order_id), "--json")
    )
    none = _json(
        cli("fills", cli.book.trader_email, "--order", str(cli.book.resting_order_id), "--json")
    )

    [fill] = page["items"]
    assert (fill["order_id"], fill["symbol"], fill["quantity"]) == (
        cli.book.filled_order_id,
        "SOLUSDT",
        "2",
    )
    assert none == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_fills_table(cli):
    result = cli("fills", cli.book.trader_email)

    assert result.exit_code == 0, result.output
    assert f"Fills of {cli.book.trader_email}" in result.stdout


def test_the_book_of_an_unknown_user_is_an_error(cli):
    result = cli("orders", "nobody@example.com")

    assert result.exit_code == 1
    assert "no user 'nobody@example.com'" in result.stderr

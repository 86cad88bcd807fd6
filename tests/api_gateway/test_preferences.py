"""Dashboard preferences are kept per user on the server, behind a strict request model."""

from __future__ import annotations

import pytest

R = "/api/v1"
PREFS = f"{R}/users/me/preferences"


async def test_preferences_are_the_defaults_until_first_saved(sqlite_api):
    trader = await sqlite_api.trader()
    r = await sqlite_api.client.get(PREFS, headers=trader.headers)
    assert r.status_code == 200
    assert r.json() == {
        "watchlist": ["RELIANCE", "TCS", "INFY", "HDFCBANK", "BTCUSDT"],
        "symbol": None,
        "theme": "system",
        "layout": {"density": "comfortable", "hidden_panels": []},
        "updated_at": None,
    }


async def test_saved_preferences_are_read_back_in_order_without_duplicates(sqlite_api):
    trader = await sqlite_api.trader()
    body = {"watchlist": ["INFY", "BTCUSDT", "INFY"], "symbol": "BTCUSDT", "theme": "dark"}
    saved = await sqlite_api.client.put(PREFS, headers=trader.headers, json=body)
    assert saved.status_code == 200, saved.text
    read = (await sqlite_api.client.get(PREFS, headers=trader.headers)).json()
    assert (read["watchlist"], read["symbol"], read["theme"]) == (
        ["INFY", "BTCUSDT"],
        "BTCUSDT",
        "dark",
    )
    assert read["updated_at"] is not None


async def test_one_users_preferences_are_not_another_users(sqlite_api):
    first, second = await sqlite_api.trader(), await sqlite_api.trader()
    await sqlite_api.client.put(
        PREFS, headers=first.headers, json={"watchlist": ["TCS"], "theme": "dark"}
    )
    read = (await sqlite_api.client.get(PREFS, headers=second.headers)).json()
    assert read["theme"] == "system"
    assert "TCS" in read["watchlist"] and len(read["watchlist"]) == 5


@pytest.mark.parametrize(
    "body",
    [
        {"theme": "blue"},
        {"watchlist": ["reliance"]},
        {"watchlist": "RELIANCE"},
        {"watchlist": [f"S{i}" for i in range(51)]},
        {"symbol": 1},
        {"user_id": 1},
        {"layout": {"density": "tiny"}},
        {"layout": {"hidden_panels": ["chart"]}},
        {"layout": {"columns": 3}},
    ],
    ids=[
        "unknown-theme",
        "lower-case",
        "not-a-list",
        "too-long",
        "number",
        "unknown-field",
        "unknown-density",
        "chart-cannot-hide",
        "unknown-layout-field",
    ],
)
async def test_invalid_preferences_are_refused_with_422(sqlite_api, body):
    trader = await sqlite_api.trader()
    r = await sqlite_api.client.put(PREFS, headers=trader.headers, json=body)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"


async def test_the_layout_is_kept_and_a_save_without_it_resets_it(sqlite_api):
    trader = await sqlite_api.trader()
    layout = {"density": "compact", "hidden_panels": ["watchlist", "orders", "watchlist"]}

    saved = await sqlite_api.client.put(PREFS, headers=trader.headers, json={"layout": layout})
    read = (await sqlite_api.client.get(PREFS, headers=trader.headers)).json()
    await sqlite_api.client.put(PREFS, headers=trader.headers, json={"theme": "dark"})
    reset = (await sqlite_api.client.get(PREFS, headers=trader.headers)).json()

    assert saved.status_code == 200, saved.text
    assert read["layout"] == {"density": "compact", "hidden_panels": ["watchlist", "orders"]}
    assert reset["layout"] == {"density": "comfortable", "hidden_panels": []}

"""A user sees their live login sessions and can end all of them at once."""

from __future__ import annotations

from tests.api_gateway.factories import login

R = "/api/v1"


async def test_the_sessions_list_shows_each_login_and_marks_the_current_one(sqlite_api):
    trader = await sqlite_api.trader()
    await login(sqlite_api.client, trader.email)  # a second session
    r = await sqlite_api.client.get(f"{R}/users/me/sessions", headers=trader.headers)
    assert r.status_code == 200
    sessions = r.json()
    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1


async def test_signing_out_everywhere_ends_every_session(sqlite_api):
    trader = await sqlite_api.trader()
    other = await login(sqlite_api.client, trader.email)
    r = await sqlite_api.client.post(f"{R}/users/me/sessions/end-all", headers=trader.headers)
    assert r.status_code == 204
    assert (await sqlite_api.client.get(f"{R}/users/me", headers=trader.headers)).status_code == 401
    refreshed = await sqlite_api.client.post(
        f"{R}/auth/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert refreshed.status_code == 401

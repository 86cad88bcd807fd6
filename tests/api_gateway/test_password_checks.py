"""Password and TOTP checks behind a valid access token are throttled like logins (no oracle)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from shared.clock import EventClock
from shared.models import AuditEntry
from tests.api_gateway.conftest import Api, build_api, settings_for
from tests.api_gateway.factories import PASSWORD, Trader

R = "/api/v1"
NEW_PASSWORD = "a brand new passphrase"
MAX_ATTEMPTS = 3  # max_login_attempts in the test settings


@pytest.fixture
async def clocked_api(sqlite_api) -> AsyncIterator[tuple[Api, EventClock]]:
    """The gateway on a clock the test moves (to step past a lockout)."""
    clock = EventClock(datetime.now(UTC))
    sqlite_api.ctx.clock = clock
    yield sqlite_api, clock


async def _enable_totp(api: Api, trader: Trader, clock: EventClock) -> pyotp.TOTP:
    setup = await api.client.post(f"{R}/auth/2fa/setup", headers=trader.headers)
    totp = pyotp.TOTP(setup.json()["secret"])
    enabled = await api.client.post(
        f"{R}/auth/2fa/enable", headers=trader.headers, json={"code": totp.at(clock.now())}
    )
    assert enabled.status_code == 200
    clock.advance_to(clock.now() + timedelta(seconds=totp.interval))  # the next code is new
    return totp


async def _audit_actions(api: Api, user_id: int) -> list[str]:
    async with api.ctx.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.target_id == str(user_id))
        )
        return list(rows)


async def test_wrong_current_passwords_are_throttled_and_the_right_one_works_after_the_lockout(
    clocked_api,
):
    api, clock = clocked_api
    trader = await api.trader()

    def change(current: str):
        body = {"current_password": current, "new_password": NEW_PASSWORD}
        return api.client.post(f"{R}/users/me/password", headers=trader.headers, json=body)

    wrong = [(await change(f"wrong guess {i}")).status_code for i in range(MAX_ATTEMPTS)]
    throttled = await change(PASSWORD)

    assert wrong == [400] * MAX_ATTEMPTS
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "account_locked"
    wait = int(throttled.headers["Retry-After"])
    assert wait >= 1
    actions = await _audit_actions(api, trader.id)
    assert actions.count("user.password_check_failed") == MAX_ATTEMPTS
    assert "user.password_check_throttled" in actions

    clock.advance_to(clock.now() + timedelta(seconds=wait))
    assert (await change(PASSWORD)).status_code == 204


async def test_wrong_passwords_and_codes_to_disable_2fa_are_throttled(clocked_api):
    api, clock = clocked_api
    trader = await api.trader()
    totp = await _enable_totp(api, trader, clock)

    def disable(password: str, code: str):
        body = {"password": password, "code": code}
        return api.client.post(f"{R}/auth/2fa/disable", headers=trader.headers, json=body)

    right_code = totp.at(clock.now())
    wrong_code = "000000" if right_code != "000000" else "111111"
    first = await disable("wrong guess", right_code)
    rest = [(await disable(PASSWORD, wrong_code)).status_code for _ in range(MAX_ATTEMPTS - 1)]
    throttled = await disable(PASSWORD, right_code)

    assert [first.status_code, *rest] == [400] * MAX_ATTEMPTS
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "account_locked"
    wait = int(throttled.headers["Retry-After"])
    assert "user.password_check_throttled" in await _audit_actions(api, trader.id)

    clock.advance_to(clock.now() + timedelta(seconds=wait))
    ok = await disable(PASSWORD, totp.at(clock.now()))
    assert ok.status_code == 204


async def test_password_guesses_with_many_tokens_from_one_address_are_throttled(request, tmp_path):
    settings = settings_for(
        "sqlite", request, tmp_path, max_login_attempts_per_address=4, max_login_attempts=1000
    )
    async for api in build_api(settings):
        traders = [await api.trader() for _ in range(3)]
        body = {"current_password": "wrong guess", "new_password": NEW_PASSWORD}
        codes = [
            (
                await api.client.post(f"{R}/users/me/password", headers=t.headers, json=body)
            ).status_code
            for t in traders * 2
        ]

        assert codes[:4] == [400] * 4
        assert codes[4:] == [429, 429]


# Guesses sent in parallel: each is counted before its (slow) password hash, so they
# cannot all be judged against the count from before any of them. On PostgreSQL, where
# requests run side by side (SQLite's embedded profile serialises its transactions).


@pytest.mark.service
@pytest.mark.parametrize("backend", ["postgres", "pgbouncer"])
async def test_parallel_wrong_current_passwords_pass_the_account_limit_no_more(
    request, tmp_path, backend
):
    settings = settings_for(
        backend, request, tmp_path, max_login_attempts=MAX_ATTEMPTS, db_pool_size=12
    )
    async for api in build_api(settings):
        trader = await api.trader()
        body = {"current_password": "wrong guess", "new_password": NEW_PASSWORD}

        replies = await asyncio.gather(
            *(
                api.client.post(f"{R}/users/me/password", headers=trader.headers, json=body)
                for _ in range(10)
            )
        )

        codes = sorted(r.status_code for r in replies)
        assert codes == [400] * MAX_ATTEMPTS + [429] * (10 - MAX_ATTEMPTS)
        assert (await _audit_actions(api, trader.id)).count(
            "user.password_check_failed"
        ) == MAX_ATTEMPTS


@pytest.mark.service
async def test_parallel_guesses_to_disable_2fa_pass_the_account_limit_no_more(request, tmp_path):
    settings = settings_for(
        "postgres", request, tmp_path, max_login_attempts=MAX_ATTEMPTS, db_pool_size=12
    )
    async for api in build_api(settings):
        clock = EventClock(datetime.now(UTC))
        api.ctx.clock = clock
        trader = await api.trader()
        await _enable_totp(api, trader, clock)
        body = {"password": "wrong guess", "code": "123456"}

        replies = await asyncio.gather(
            *(
                api.client.post(f"{R}/auth/2fa/disable", headers=trader.headers, json=body)
                for _ in range(8)
            )
        )

        codes = sorted(r.status_code for r in replies)
        assert codes == [400] * MAX_ATTEMPTS + [429] * (8 - MAX_ATTEMPTS)


@pytest.mark.service
async def test_parallel_guesses_from_one_address_pass_the_address_limit_no_more(request, tmp_path):
    settings = settings_for(
        "postgres",
        request,
        tmp_path,
        max_login_attempts_per_address=4,
        max_login_attempts=1000,
        db_pool_size=12,
    )
    async for api in build_api(settings):
        traders = [await api.trader() for _ in range(10)]
        body = {"current_password": "wrong guess", "new_password": NEW_PASSWORD}

        replies = await asyncio.gather(
            *(
                api.client.post(f"{R}/users/me/password", headers=t.headers, json=body)
                for t in traders
            )
        )

        assert sorted(r.status_code for r in replies) == [400] * 4 + [429] * 6


@pytest.mark.service
async def test_parallel_wrong_logins_pass_the_account_limit_no_more(request, tmp_path):
    settings = settings_for(
        "postgres", request, tmp_path, max_login_attempts=MAX_ATTEMPTS, db_pool_size=12
    )
    async for api in build_api(settings):
        trader = await api.trader()
        body = {"email": trader.email, "password": "wrong guess"}

        replies = await asyncio.gather(
            *(api.client.post(f"{R}/auth/login", json=body) for _ in range(10))
        )

        codes = sorted(r.status_code for r in replies)
        assert codes == [401] * MAX_ATTEMPTS + [429] * (10 - MAX_ATTEMPTS)


async def test_a_right_password_takes_its_reservation_back(request, tmp_path):
    settings = settings_for(
        "sqlite", request, tmp_path, max_login_attempts_per_address=2, max_login_attempts=1000
    )
    async for api in build_api(settings):
        trader = await api.trader()  # its login is the first check of the address
        passwords = [PASSWORD, NEW_PASSWORD, PASSWORD]
        codes = []
        for current, new in itertools.pairwise(passwords):
            body = {"current_password": current, "new_password": new}
            r = await api.client.post(f"{R}/users/me/password", headers=trader.headers, json=body)
            codes.append(r.status_code)
            tokens = await api.client.post(
                f"{R}/auth/login", json={"email": trader.email, "password": new}
            )
            trader.access = tokens.json()["access_token"]

        assert codes == [204, 204]  # five right checks, none left counted against the two

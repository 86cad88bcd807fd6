"""Two-factor recovery codes: made at enrolment, each accepted once in place of a TOTP code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from shared.clock import EventClock
from shared.models import RecoveryCode
from tests.api_gateway.conftest import Api
from tests.api_gateway.factories import PASSWORD, Trader

R = "/api/v1"


@pytest.fixture
async def clocked(sqlite_api) -> AsyncIterator[tuple[Api, EventClock]]:
    clock = EventClock(datetime.now(UTC))
    sqlite_api.ctx.clock = clock
    yield sqlite_api, clock


async def _enrol(api: Api, trader: Trader, clock: EventClock) -> tuple[pyotp.TOTP, list[str]]:
    setup = await api.client.post(f"{R}/auth/2fa/setup", headers=trader.headers)
    totp = pyotp.TOTP(setup.json()["secret"])
    enabled = await api.client.post(
        f"{R}/auth/2fa/enable", headers=trader.headers, json={"code": totp.at(clock.now())}
    )
    assert enabled.status_code == 200, enabled.text
    clock.advance_to(clock.now() + timedelta(seconds=totp.interval))  # the next code is new
    return totp, enabled.json()["recovery_codes"]


def _login(api: Api, trader: Trader, **factor: str):
    return api.client.post(
        f"{R}/auth/login", json={"email": trader.email, "password": PASSWORD, **factor}
    )


async def _remaining(api: Api, trader: Trader) -> int:
    r = await api.client.get(f"{R}/auth/2fa/recovery-codes", headers=trader.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["remaining"])


async def test_enrolment_returns_ten_distinct_codes_stored_only_as_digests(clocked):
    api, clock = clocked
    trader = await api.trader()

    _, codes = await _enrol(api, trader, clock)

    assert len(codes) == len(set(codes)) == 10
    async with api.ctx.sessions() as session:
        stored = list(
            await session.scalars(
                select(RecoveryCode.code_hash).where(RecoveryCode.user_id == trader.id)
            )
        )
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & set(stored)
    assert all(c not in h for c in codes for h in stored)
    assert await _remaining(api, trader) == 10


async def test_a_recovery_code_logs_in_once_then_is_refused(clocked):
    api, clock = clocked
    trader = await api.trader()
    _, codes = await _enrol(api, trader, clock)

    first = await _login(api, trader, recovery_code=codes[0].upper().replace("-", " "))
    again = await _login(api, trader, recovery_code=codes[0])

    assert first.status_code == 200, first.text
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_recovery_code"
    assert await _remaining(api, trader) == 9


async def test_another_users_recovery_code_is_refused(clocked):
    api, clock = clocked
    alice, bob = await api.trader(), await api.trader()
    _, alice_codes = await _enrol(api, alice, clock)
    await _enrol(api, bob, clock)

    as_bob = await _login(api, bob, recovery_code=alice_codes[0])

    assert as_bob.status_code == 401
    assert as_bob.json()["code"] == "invalid_recovery_code"
    assert await _remaining(api, alice) == 10
    assert await _remaining(api, bob) == 10
    assert (await _login(api, alice, recovery_code=alice_codes[0])).status_code == 200


async def test_a_recovery_code_disables_2fa_and_the_codes_go_with_it(clocked):
    api, clock = clocked
    trader = await api.trader()
    _, codes = await _enrol(api, trader, clock)

    off = await api.client.post(
        f"{R}/auth/2fa/disable",
        headers=trader.headers,
        json={"password": PASSWORD, "recovery_code": codes[3]},
    )

    assert off.status_code == 204, off.text
    me = await api.client.get(f"{R}/users/me", headers=trader.headers)
    assert me.json()["totp_enabled"] is False
    assert await _remaining(api, trader) == 0


async def test_regenerating_needs_password_and_totp_and_voids_the_old_codes(clocked):
    api, clock = clocked
    trader = await api.trader()
    totp, old = await _enrol(api, trader, clock)

    def regenerate(password: str, code: str):
        return api.client.post(
            f"{R}/auth/2fa/recovery-codes",
            headers=trader.headers,
            json={"password": password, "code": code},
        )

    wrong_password = await regenerate("not the password", totp.at(clock.now()))
    with_recovery = await api.client.post(
        f"{R}/auth/2fa/recovery-codes",
        headers=trader.headers,
        json={"password": PASSWORD, "code": old[0]},
    )
    fresh = await regenerate(PASSWORD, totp.at(clock.now()))

    assert wrong_password.status_code == 400
    assert with_recovery.status_code == 422
    assert fresh.status_code == 200, fresh.text
    new = fresh.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert (await _login(api, trader, recovery_code=old[1])).status_code == 401
    assert (await _login(api, trader, recovery_code=new[1])).status_code == 200
    assert await _remaining(api, trader) == 9


async def test_wrong_recovery_codes_count_towards_the_lockout(clocked):
    api, clock = clocked
    trader = await api.trader()
    _, codes = await _enrol(api, trader, clock)

    wrong = [
        (await _login(api, trader, recovery_code="aaaa-bbbb-cccc-dddd")).status_code
        for _ in range(3)  # max_login_attempts in the test settings
    ]
    locked = await _login(api, trader, recovery_code=codes[0])

    assert wrong == [401] * 3
    assert locked.status_code == 429
    assert await _remaining(api, trader) == 10


async def test_a_totp_code_and_a_recovery_code_together_are_refused(clocked):
    api, clock = clocked
    trader = await api.trader()
    totp, codes = await _enrol(api, trader, clock)

    both = await _login(api, trader, totp_code=totp.at(clock.now()), recovery_code=codes[0])

    assert both.status_code == 422

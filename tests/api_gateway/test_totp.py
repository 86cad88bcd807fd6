"""Optional TOTP two-factor login."""

from __future__ import annotations

import time

import pyotp

from tests.api_gateway.factories import PASSWORD

R = "/api/v1"


async def test_totp_enrolment_then_login_needs_the_code(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    setup = await api.client.post(f"{R}/auth/2fa/setup", headers=trader.headers)
    assert setup.status_code == 200
    totp = pyotp.TOTP(setup.json()["secret"])
    wrong = await api.client.post(
        f"{R}/auth/2fa/enable",
        headers=trader.headers,
        json={"code": "000000" if totp.now() != "000000" else "111111"},
    )
    assert wrong.status_code == 400
    ok = await api.client.post(
        f"{R}/auth/2fa/enable", headers=trader.headers, json={"code": totp.now()}
    )
    assert ok.status_code == 200

    no_code = await api.client.post(
        f"{R}/auth/login", json={"email": trader.email, "password": PASSWORD}
    )
    assert no_code.status_code == 401
    assert no_code.json()["code"] == "totp_required"
    # the enrolment used the current code: a code works once, so log in with the next one
    with_code = await api.client.post(
        f"{R}/auth/login",
        json={"email": trader.email, "password": PASSWORD, "totp_code": _next_code(totp)},
    )
    assert with_code.status_code == 200


def _next_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step (accepted: one step of clock drift either way)."""
    return totp.at(time.time() + totp.interval)


async def _enrol(api, trader) -> tuple[pyotp.TOTP, str]:
    """Enable 2FA; the generator and the code that enabled it."""
    setup = await api.client.post(f"{R}/auth/2fa/setup", headers=trader.headers)
    totp = pyotp.TOTP(setup.json()["secret"])
    code = totp.now()
    ok = await api.client.post(f"{R}/auth/2fa/enable", headers=trader.headers, json={"code": code})
    assert ok.status_code == 200
    return totp, code


async def test_a_totp_code_logs_in_once(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    totp, _ = await _enrol(api, trader)
    body = {"email": trader.email, "password": PASSWORD, "totp_code": _next_code(totp)}

    first = await api.client.post(f"{R}/auth/login", json=body)
    second = await api.client.post(f"{R}/auth/login", json=body)

    assert first.status_code == 200
    assert second.status_code == 401
    assert second.json()["code"] == "totp_reused"


async def test_the_enrolment_code_cannot_disable_2fa_again(sqlite_api):
    api = sqlite_api
    trader = await api.trader()
    _, code = await _enrol(api, trader)

    replay = await api.client.post(
        f"{R}/auth/2fa/disable", headers=trader.headers, json={"password": PASSWORD, "code": code}
    )

    assert replay.status_code == 400
    assert replay.json()["code"] == "totp_reused"
    me = await api.client.get(f"{R}/users/me", headers=trader.headers)
    assert me.json()["totp_enabled"] is True

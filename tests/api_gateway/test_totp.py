"""Optional TOTP two-factor login."""

from __future__ import annotations

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
    assert ok.status_code == 204

    no_code = await api.client.post(
        f"{R}/auth/login", json={"email": trader.email, "password": PASSWORD}
    )
    assert no_code.status_code == 401
    assert no_code.json()["code"] == "totp_required"
    with_code = await api.client.post(
        f"{R}/auth/login",
        json={"email": trader.email, "password": PASSWORD, "totp_code": totp.now()},
    )
    assert with_code.status_code == 200

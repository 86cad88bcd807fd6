"""Broker accounts: created per user, credentials encrypted and never returned."""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlalchemy import select

from shared.models import BrokerAccount

R = "/api/v1"
SECRET = "api-secret-value-1234567890-WXYZ"


async def test_paper_account_defaults_to_50000_inr(api):
    trader = await api.trader()
    r = await api.client.post(
        f"{R}/broker-accounts", headers=trader.headers, json={"label": "Paper"}
    )
    assert r.status_code == 201
    body = r.json()
    assert Decimal(str(body["starting_capital"])) == Decimal("50000")
    assert body["currency"] == "INR" and body["broker"] == "paper"


async def test_credentials_are_encrypted_masked_and_never_logged(api, caplog):
    caplog.set_level(logging.DEBUG)
    trader = await api.trader()
    r = await api.client.post(
        f"{R}/broker-accounts",
        headers=trader.headers,
        json={"label": "Live", "credentials": {"api_key": "key-abc", "api_secret": SECRET}},
    )
    assert r.status_code == 201
    assert SECRET not in r.text
    assert r.json()["credentials_hint"] == "****WXYZ"
    listing = await api.client.get(f"{R}/broker-accounts", headers=trader.headers)
    assert SECRET not in listing.text
    async with api.ctx.sessions() as session:
        row = await session.scalar(select(BrokerAccount))
        assert row is not None and SECRET not in (row.credentials_encrypted or "")
        assert SECRET in api.ctx.secrets.decrypt(row.credentials_encrypted)
    assert SECRET not in caplog.text


async def test_duplicate_label_is_409_and_update_and_delete_work(api):
    trader = await api.trader()
    first = await api.client.post(
        f"{R}/broker-accounts", headers=trader.headers, json={"label": "A"}
    )
    dup = await api.client.post(f"{R}/broker-accounts", headers=trader.headers, json={"label": "A"})
    assert dup.status_code == 409
    acc_id = first.json()["id"]
    upd = await api.client.patch(
        f"{R}/broker-accounts/{acc_id}", headers=trader.headers, json={"label": "B"}
    )
    assert upd.status_code == 200 and upd.json()["label"] == "B"
    assert (
        await api.client.delete(f"{R}/broker-accounts/{acc_id}", headers=trader.headers)
    ).status_code == 204
    assert (
        await api.client.get(f"{R}/broker-accounts/{acc_id}", headers=trader.headers)
    ).status_code == 404


async def test_paper_account_in_eur_is_422_naming_the_allowed_currencies(sqlite_api):
    trader = await sqlite_api.trader()

    r = await sqlite_api.client.post(
        f"{R}/broker-accounts", headers=trader.headers, json={"label": "X", "currency": "EUR"}
    )

    assert r.status_code == 422
    (detail,) = r.json()["details"]
    assert detail["field"] == "currency"
    assert all(c in detail["message"] for c in ("INR", "USDT", "USD", "EUR"))


async def test_usdt_paper_account_defaults_to_10000_usdt(sqlite_api):
    trader = await sqlite_api.trader()

    r = await sqlite_api.client.post(
        f"{R}/broker-accounts", headers=trader.headers, json={"label": "X", "currency": "usdt"}
    )

    assert r.status_code == 201, r.text
    assert (r.json()["currency"], r.json()["starting_capital"]) == ("USDT", "10000")


async def test_unknown_broker_kind_and_negative_capital_are_422(api):
    trader = await api.trader()
    r = await api.client.post(
        f"{R}/broker-accounts",
        headers=trader.headers,
        json={"label": "X", "broker": "zerodha-live"},
    )
    assert r.status_code == 422
    r = await api.client.post(
        f"{R}/broker-accounts",
        headers=trader.headers,
        json={"label": "X", "starting_capital": "-5"},
    )
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "starting_capital"


async def test_new_account_never_gets_the_id_of_a_deleted_one(sqlite_api):
    # SQLite without AUTOINCREMENT handed the highest deleted rowid out again, and with it
    # whatever was cached under that id (cash, positions, risk state).
    api = sqlite_api
    alice, bob = await api.trader(), await api.trader()
    created = await api.client.post(
        f"{R}/broker-accounts", headers=alice.headers, json={"label": "Gone"}
    )
    gone = created.json()["id"]
    assert created.json()["closed_at"] is None
    deleted = await api.client.delete(f"{R}/broker-accounts/{gone}", headers=alice.headers)
    assert deleted.status_code == 204

    r = await api.client.post(f"{R}/broker-accounts", headers=bob.headers, json={"label": "New"})

    assert r.status_code == 201
    assert r.json()["id"] > gone

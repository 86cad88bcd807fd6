"""Factories that build users and tokens through the public API."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import httpx

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


@dataclass
class Trader:
    id: int
    email: str
    access: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


async def register(
    client: httpx.AsyncClient, email: str | None = None, password: str = PASSWORD
) -> dict:
    email = email or f"trader{next(_seq)}@example.com"
    r = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "full_name": "Test Trader"},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict:
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


async def make_trader(client: httpx.AsyncClient) -> Trader:
    user = await register(client)
    tokens = await login(client, user["email"])
    return Trader(user["id"], user["email"], tokens["access_token"], tokens["refresh_token"])

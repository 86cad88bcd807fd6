"""The API reference pages load their assets from the platform, never from a CDN."""

from __future__ import annotations

import re

import pytest

R = "/api/v1"


@pytest.mark.parametrize("page", ["docs", "redoc"])
async def test_the_docs_pages_load_only_local_assets(sqlite_api, page):
    r = await sqlite_api.client.get(f"{R}/{page}")
    assert r.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert sources and all(s.startswith("/api-docs/") for s in sources), sources
    assert "https://" not in r.text
    assert f"{R}/openapi.json" in r.text


@pytest.mark.parametrize("page", ["docs", "redoc"])
async def test_the_docs_pages_may_load_nothing_from_another_origin(sqlite_api, page):
    r = await sqlite_api.client.get(f"{R}/{page}")
    policy = r.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy

"""Migrations are the only schema source: models and migrations never drift."""

from __future__ import annotations

import asyncio

import pytest

from algotrade.migrate import check, upgrade


async def test_models_match_migrations_on_sqlite(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'drift.db'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(check, url)


@pytest.mark.service
async def test_models_match_migrations_on_postgres(postgres_server):
    postgres_server.create_database("drift")
    url = postgres_server.dsn("drift")
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(check, url)

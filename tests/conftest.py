"""Session-wide real servers (started lazily, once) and the CI no-skip rule for service tests."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator

import pytest

from tests.servers import (
    InfluxServer,
    MissingBinaryError,
    PgBouncerServer,
    PostgresServer,
    RedisServer,
    Server,
)

IN_CI = bool(os.environ.get("CI"))
_db_seq = itertools.count(1)


def _launch(request: pytest.FixtureRequest, factory: Callable[[], Server]) -> Server:
    """Build and start a server; skip (or fail under CI) when its binary is missing."""
    try:
        server = factory()
    except MissingBinaryError as exc:
        if IN_CI:
            pytest.fail(f"CI requires real servers: {exc}", pytrace=False)
        pytest.skip(str(exc))
    request.addfinalizer(server.cleanup)
    server.start()
    return server


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> PostgresServer:
    server = _launch(request, PostgresServer)
    assert isinstance(server, PostgresServer)
    return server


@pytest.fixture(scope="session")
def pgbouncer_server(
    request: pytest.FixtureRequest, postgres_server: PostgresServer
) -> PgBouncerServer:
    server = _launch(request, lambda: PgBouncerServer(postgres_server))
    assert isinstance(server, PgBouncerServer)
    return server


@pytest.fixture(scope="session")
def redis_server(request: pytest.FixtureRequest) -> RedisServer:
    server = _launch(request, RedisServer)
    assert isinstance(server, RedisServer)
    return server


@pytest.fixture(scope="session")
def influx_server(request: pytest.FixtureRequest) -> InfluxServer:
    server = _launch(request, InfluxServer)
    assert isinstance(server, InfluxServer)
    return server


def unique_db_name(hint: str) -> str:
    """A fresh, valid database name derived from ``hint``."""
    slug = re.sub(r"[^a-z0-9]+", "_", hint.lower()).strip("_")[-40:]
    return f"t_{slug}_{os.getpid()}_{next(_db_seq)}"


@pytest.fixture
def new_database(postgres_server: PostgresServer) -> Iterator[Callable[[str], str]]:
    """Factory: create a fresh PostgreSQL database, return its name; dropped after the test."""
    made: list[str] = []

    def make(hint: str = "db") -> str:
        name = unique_db_name(hint)
        postgres_server.create_database(name)
        made.append(name)
        return name

    yield make
    for name in made:
        if postgres_server.is_running:
            postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def module_database(
    request: pytest.FixtureRequest, postgres_server: PostgresServer
) -> Iterator[str]:
    """A fresh PostgreSQL database shared by the tests of one module."""
    name = unique_db_name(request.module.__name__.rsplit(".", 1)[-1])
    postgres_server.create_database(name)
    yield name
    if postgres_server.is_running:
        postgres_server.drop_database(name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI a skipped ``service`` test is a failure: CI must exercise the real servers."""
    outcome = yield
    report = outcome.get_result()
    is_service = item.get_closest_marker("service") is not None
    if IN_CI and is_service and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"service test skipped under CI (must run): {reason}"

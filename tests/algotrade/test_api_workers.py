"""`algotrade serve api` with several worker processes: one port, metrics added up over the
processes, per-user rate limits shared through Redis."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from algotrade.migrate import upgrade
from shared.config import Settings
from tests.api_gateway.factories import PASSWORD
from tests.servers import PostgresServer, ProcessServer, RedisServer

pytestmark = pytest.mark.service
ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
BURST = 5


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


@pytest.fixture
def gateway(
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    new_database: Callable[[str], str],
) -> Iterator[ProcessServer]:
    name = new_database("api_workers")
    env = {
        "PYTHONPATH": str(ROOT),
        "ALGOTRADE_ENVIRONMENT": "development",
        "ALGOTRADE_PROFILE": "distributed",
        "ALGOTRADE_DB_HOST": postgres_server.host,
        "ALGOTRADE_DB_PORT": str(postgres_server.port),
        "ALGOTRADE_DB_NAME": name,
        "ALGOTRADE_DB_USER": postgres_server.user,
        "ALGOTRADE_REDIS_HOST": redis_server.host,
        "ALGOTRADE_REDIS_PORT": str(redis_server.port),
        "ALGOTRADE_API_WORKERS": str(WORKERS),
        "ALGOTRADE_RATE_LIMIT_READS_PER_SECOND": "0.1",  # slow refills: the counts are exact
        "ALGOTRADE_RATE_LIMIT_READ_BURST": str(BURST),
        "ALGOTRADE_LOG_LEVEL": "WARNING",
    }
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="development",
        profile="distributed",
        db_host=postgres_server.host,
        db_port=postgres_server.port,
        db_name=name,
        db_user=postgres_server.user,
    )
    upgrade(settings.migration_url)

    def ready(server: ProcessServer) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    server = ProcessServer(
        [sys.executable, "-m", "algotrade.cli", "serve", "api"],
        env=env,
        cwd=ROOT,
        ready=ready,
        name="api-workers",
        ready_timeout=60,
    )
    server.extra_env["ALGOTRADE_API_PORT"] = str(server.port)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def _fresh(url: str, **kwargs: object) -> httpx.Response:
    """One request on a connection of its own, so any worker may take it."""
    with httpx.Client(timeout=10) as client:
        return client.request(url=url, **kwargs)  # type: ignore[arg-type]


def test_the_workers_answer_on_one_port_and_their_metrics_add_up(gateway: ProcessServer):
    base = f"http://127.0.0.1:{gateway.port}"
    assert gateway.pid is not None
    workers = _children(gateway.pid)

    answered = [_fresh(f"{base}/health", method="GET").status_code for _ in range(40)]
    text = _fresh(f"{base}/metrics", method="GET").text

    health = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("algotrade_http_requests_total{")
        and 'route="/health"' in line
        and 'status="200"' in line
    ]
    assert len(workers) >= WORKERS  # uvicorn's supervisor and its worker processes
    assert answered == [200] * 40 and sum(health) >= 40


def test_a_users_read_budget_is_shared_by_the_workers(gateway: ProcessServer):
    base = f"http://127.0.0.1:{gateway.port}/api/v1"
    email = "workers@example.com"
    body = {"email": email, "password": PASSWORD, "full_name": "Workers"}
    assert _fresh(f"{base}/auth/register", method="POST", json=body).status_code == 201
    login = _fresh(f"{base}/auth/login", method="POST", json={"email": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    codes = [
        _fresh(f"{base}/users/me", method="GET", headers=headers).status_code
        for _ in range(BURST * WORKERS + 2)
    ]

    assert codes.count(200) == BURST and set(codes) == {200, 429}

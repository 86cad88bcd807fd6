"""The throwaway servers start, answer, and come back on the same port after a kill."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request

import psycopg
import pytest
import redis

from tests.servers import (
    InfluxServer,
    PgBouncerServer,
    PostgresServer,
    ProcessServer,
    RedisServer,
    tcp_open,
)

pytestmark = pytest.mark.service


def _pg_select_one(conninfo: str) -> int:
    with psycopg.connect(conninfo, connect_timeout=5, prepare_threshold=None) as conn:
        row = conn.execute("SELECT 1").fetchone()
    assert row is not None
    return int(row[0])


def test_postgres_answers_and_creates_databases(postgres_server: PostgresServer) -> None:
    postgres_server.create_database("t_servers_create")

    answer = _pg_select_one(postgres_server.conninfo("t_servers_create"))

    assert answer == 1
    assert postgres_server.dsn("x").startswith(
        f"postgresql+asyncpg://postgres@127.0.0.1:{postgres_server.port}/x"
    )
    postgres_server.drop_database("t_servers_create")


def test_postgres_survives_kill_and_restarts_on_same_port_with_data() -> None:
    with PostgresServer() as pg:
        pg.create_database("kept")
        port = pg.port

        pg.kill()
        assert not tcp_open(port)
        pg.restart()

        assert pg.port == port
        assert _pg_select_one(pg.conninfo("kept")) == 1


def test_pgbouncer_forwards_queries(pgbouncer_server: PgBouncerServer) -> None:
    assert _pg_select_one(pgbouncer_server.conninfo("postgres")) == 1


def test_pgbouncer_pause_holds_queries_until_resume(pgbouncer_server: PgBouncerServer) -> None:
    pgbouncer_server.pause()
    done = threading.Event()

    def query() -> None:
        _pg_select_one(pgbouncer_server.conninfo("postgres"))
        done.set()

    worker = threading.Thread(target=query, daemon=True)
    try:
        worker.start()
        held = not done.wait(0.5)
    finally:
        pgbouncer_server.resume()
    worker.join(10)

    assert held
    assert done.is_set()


def test_redis_survives_kill_and_restarts_on_same_port() -> None:
    with RedisServer() as server:
        port = server.port
        server.kill()
        assert not server.is_running

        server.restart()

        client = redis.Redis.from_url(server.url)
        assert server.port == port
        assert client.ping() is True
        client.close()


def test_session_redis_answers(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)

    client.set("k", "v")

    assert client.get("k") == b"v"
    client.close()


def test_influx_answers_ping(influx_server: InfluxServer) -> None:
    with urllib.request.urlopen(f"{influx_server.url}/ping", timeout=5) as resp:
        assert resp.status == 204


def test_process_server_waits_for_its_probe_and_stops() -> None:
    script = "import time, pathlib; time.sleep(0.3); pathlib.Path('ready').touch(); time.sleep(60)"
    server = ProcessServer(
        [sys.executable, "-c", script], ready=lambda s: (s.dir / "ready").exists()
    )

    t0 = time.monotonic()
    with server:
        assert server.is_running
        assert time.monotonic() - t0 >= 0.3
    assert not server.is_running


def test_process_server_reports_early_exit_with_log_tail() -> None:
    server = ProcessServer(
        [sys.executable, "-c", "print('boom'); raise SystemExit(3)"], ready=lambda s: False
    )

    with pytest.raises(RuntimeError, match="boom"):
        server.start()
    server.cleanup()


_SKIPPING_SERVICE_TEST = """
import pytest

@pytest.mark.service
def test_needs_a_server():
    pytest.skip("server missing")
"""


def _run_pytest_on(tmp_path, ci: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    (tmp_path / "test_probe.py").write_text(_SKIPPING_SERVICE_TEST)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "CI": ci, "PYTHONPATH": root, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "tests.conftest",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(tmp_path),
        "-W",
        "ignore::pytest.PytestUnknownMarkWarning",
        str(tmp_path / "test_probe.py"),
    ]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_skipped_service_test_fails_under_ci(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = _run_pytest_on(tmp_path, ci="true")

    assert done.returncode == 1, done.stdout
    assert "service test skipped under CI" in done.stdout


def test_skipped_service_test_is_a_skip_outside_ci(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = _run_pytest_on(tmp_path, ci="")

    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout

"""The distributed profile on one machine: real servers and every service as its own process.

PostgreSQL (the session's server, a database of its own), PgBouncer in transaction
pooling mode in front of it, Redis with an append-only file (as deployed: the intent
streams must survive a restart) and InfluxDB, each a throwaway server on loopback. The
services run as ``algotrade serve <service>`` with the settings ``docker-compose.yml``
gives them (production environment, JSON logs, PgBouncer), each on free ports, and each
can be killed with SIGKILL and started again the way a supervisor would.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from tests.servers import (
    InfluxServer,
    PgBouncerServer,
    PostgresServer,
    ProcessServer,
    RedisServer,
    free_port,
)

ROOT = Path(__file__).resolve().parents[2]
INFLUX_DATABASE = "e2e"


def http_status(url: str, timeout: float = 3.0) -> int:
    """The status of a GET of ``url``; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except Exception:
        return 0


@dataclass
class Service:
    """One service process and the port its /health, /ready and /metrics answer on."""

    name: str
    process: ProcessServer
    port: int
    ready_line: str | None = None
    """A log line that says the service works (Celery workers and the order processor)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        return http_status(f"{self.url}/ready") == 200

    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, object]]:
        """The JSON lines of its log (lines that are not JSON are left out)."""
        out = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                parsed = json.loads(line)
                if isinstance(parsed, dict):
                    out.append(parsed)
        return out


@dataclass
class Cluster:
    """The servers and the service processes of one run."""

    postgres: PostgresServer
    pgbouncer: PgBouncerServer
    redis: RedisServer
    influx: InfluxServer
    db_name: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    @classmethod
    def create(cls, postgres: PostgresServer, db_name: str, workdir: Path) -> Cluster:
        """Start PgBouncer, Redis and InfluxDB; the services' common environment."""
        postgres.create_database(db_name)
        # In the system's temp dir: PgBouncer runs as the postgres user when we are root.
        pgbouncer = PgBouncerServer(postgres, pool_size=10)
        redis = RedisServer(appendonly=True)
        influx = InfluxServer()
        cluster = cls(postgres, pgbouncer, redis, influx, db_name, workdir)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda s: s.start(), (pgbouncer, redis, influx)))
        cluster.env = {
            "PYTHONPATH": str(ROOT),
            "ALGOTRADE_ENVIRONMENT": "production",
            "ALGOTRADE_PROFILE": "distributed",
            "ALGOTRADE_LOG_FORMAT": "json",
            "ALGOTRADE_LOG_LEVEL": "INFO",
            "ALGOTRADE_DATA_DIR": str(workdir / "data"),
            "ALGOTRADE_DB_HOST": postgres.host,
            "ALGOTRADE_DB_PORT": str(postgres.port),
            "ALGOTRADE_DB_NAME": db_name,
            "ALGOTRADE_DB_USER": postgres.user,
            "ALGOTRADE_DB_POOL_SIZE": "5",
            "ALGOTRADE_DB_MAX_OVERFLOW": "5",
            "ALGOTRADE_USE_PGBOUNCER": "true",
            "ALGOTRADE_PGBOUNCER_HOST": pgbouncer.host,
            "ALGOTRADE_PGBOUNCER_PORT": str(pgbouncer.port),
            "ALGOTRADE_REDIS_HOST": redis.host,
            "ALGOTRADE_REDIS_PORT": str(redis.port),
            "ALGOTRADE_INFLUX_URL": influx.url,
            "ALGOTRADE_INFLUX_DATABASE": INFLUX_DATABASE,
            "ALGOTRADE_JWT_SECRET": secrets.token_urlsafe(48),
            "ALGOTRADE_SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALGOTRADE_PROBE_HOST": "127.0.0.1",
        }
        return cluster

    # -- the command line --------------------------------------------------------------------

    def cli(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> str:
        """Run ``algotrade ARGS`` with the services' settings; its output (raises on failure)."""
        done = subprocess.run(
            [sys.executable, "-m", "algotrade.cli", *args],
            env={**os.environ, **self.env, **(env or {})},
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"algotrade {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    # -- services ----------------------------------------------------------------------------

    def add(
        self,
        name: str,
        service: str,
        *,
        port_setting: str,
        env: Mapping[str, str] | None = None,
        ready_line: str | None = None,
    ) -> Service:
        """Declare ``algotrade serve SERVICE`` as ``name``, serving probes on a free port."""
        port = free_port()
        extra = {**(env or {}), port_setting: str(port)}

        def ready(process: ProcessServer) -> bool:
            if http_status(f"http://127.0.0.1:{port}/health", timeout=1.0) != 200:
                return False
            if ready_line is None:
                return True
            return ready_line in process.log_path.read_text(errors="replace")

        process = ProcessServer(
            [sys.executable, "-m", "algotrade.cli", "serve", service],
            env={**self.env, **extra},
            ready=ready,
            name=name,
            ready_timeout=120,
            base_dir=self.workdir,
        )
        self.services[name] = Service(name, process, port, ready_line)
        return self.services[name]

    def start(self, names: Iterable[str]) -> None:
        """Start the named services side by side; returns when each says it is up."""
        chosen = [self.services[n].process for n in names]
        with concurrent.futures.ThreadPoolExecutor(max(1, len(chosen))) as pool:
            list(pool.map(lambda p: p.start(), chosen))

    def not_ready(self) -> list[str]:
        """Services whose /ready does not answer 200 (one of their dependencies is down)."""
        return [name for name, s in self.services.items() if not s.ready()]

    def logs(self, lines: int = 25, only: Callable[[str], bool] | None = None) -> str:
        return "\n".join(
            f"--- {name}\n{s.process.log_tail(lines)}"
            for name, s in self.services.items()
            if only is None or only(name)
        )

    def close(self) -> None:
        """Stop everything; the services' logs stay in the test's temp dir."""
        for service in self.services.values():
            with contextlib.suppress(Exception):
                service.process.stop()
        for server in (self.pgbouncer, self.redis, self.influx):
            with contextlib.suppress(Exception):
                server.cleanup()
        if self.postgres.is_running:
            with contextlib.suppress(Exception):
                self.postgres.drop_database(self.db_name)

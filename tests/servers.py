"""Throwaway real servers on loopback for tests and benchmarks.

Each server runs from the installed binaries in its own temp dir on a free
127.0.0.1 port, and can be stopped gracefully, killed (SIGKILL) and restarted
on the same port with the same data. PostgreSQL and PgBouncer refuse to run as
root, so when we are root they run as the ``postgres`` system user.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Self

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PACKAGES = {  # binary -> Debian package that provides it
    "initdb": "postgresql-15",
    "postgres": "postgresql-15",
    "pgbouncer": "pgbouncer",
    "redis-server": "redis-server",
    "influxd": "influxdb",
}
INSTALL_HINT = "bash scripts/install-system-deps.sh"
_PR_SET_PDEATHSIG = 1
_live: set[Server] = set()


class ServerError(RuntimeError):
    """A server could not be started or did not become ready in time."""


class MissingBinaryError(ServerError):
    """The server's binary is not installed."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.package = PACKAGES.get(binary, binary)
        super().__init__(
            f"{binary} not found: install the Debian package {self.package!r} "
            f"(run `{INSTALL_HINT}`)"
        )


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (bind port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str, *extra_dirs: Path) -> str:
    """Absolute path of ``name`` from ``extra_dirs`` or PATH (and sbin), else MissingBinaryError."""
    for d in extra_dirs:
        if (d / name).is_file():
            return str(d / name)
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/local/sbin"
    found = shutil.which(name, path=path)
    if found is None:
        raise MissingBinaryError(name)
    return found


def tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    # Runs in the child after the uid switch: if the test process dies without
    # cleaning up, the kernel kills the server instead of leaving it running.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Server:
    """A server process in a temp dir on a fixed port: start/stop/kill/restart."""

    name = "server"
    stop_signal = signal.SIGTERM
    ready_timeout = 30.0

    def __init__(self, run_as: str | None = None, base_dir: Path | None = None) -> None:
        self.run_as = run_as
        self.dir = Path(tempfile.mkdtemp(prefix=f"algotrade-{self.name}-", dir=base_dir))
        if run_as is not None:
            pw = pwd.getpwnam(run_as)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.log_path = self.dir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._prepared = False

    # -- to override -------------------------------------------------------
    def _prepare(self) -> None:
        """One-time setup before the first start (init data dir, write config)."""

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        env["HOME"] = str(self.dir)
        return env

    def _cwd(self) -> str:
        return str(self.dir)

    def _ready(self) -> bool:
        return tcp_open(self.port, self.host)

    # -- lifecycle ---------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.is_running and self._proc else None

    def start(self, timeout: float | None = None) -> None:
        """Start (or start again) on the same port and data dir; wait until ready."""
        if self.is_running:
            return
        first = not self._prepared
        for attempt in range(3):
            if not self._prepared:
                self._prepare()
                self._prepared = True
            self._spawn()
            try:
                self._wait_ready(timeout or self.ready_timeout)
                break
            except ServerError:
                # The free port may have been taken between probing and binding
                # (other test runs share the machine): a first start moves on.
                if not (first and attempt < 2 and "in use" in self.log_tail()):
                    raise
                self._new_ports()
        _live.add(self)

    def stop(self, timeout: float = 15.0) -> None:
        """Graceful shutdown; SIGKILL if it does not exit within ``timeout``."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._proc = None
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(self.stop_signal)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._after_exit()

    def kill(self) -> None:
        """SIGKILL the server and every process it started (its whole process group)."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        self._after_exit()

    def restart(self, timeout: float | None = None) -> None:
        """Stop if running, then start again on the same port and data dir."""
        self.stop()
        self.start(timeout)

    def cleanup(self) -> None:
        """Stop and remove the temp dir."""
        self.stop()
        _live.discard(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<{type(self).__name__} {self.host}:{self.port} {state}>"

    # -- internals ---------------------------------------------------------
    def _spawn(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        kwargs: dict[str, object] = {}
        if self.run_as is not None:
            kwargs.update(user=self.run_as, group=pwd.getpwnam(self.run_as).pw_gid, extra_groups=[])
        if threading.current_thread() is threading.main_thread():
            kwargs["preexec_fn"] = _die_with_parent
        try:
            self._proc = subprocess.Popen(  # type: ignore[call-overload]
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=self._cwd(),
                start_new_session=True,
                **kwargs,
            )
        finally:
            log.close()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.02
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise ServerError(
                    f"{self!r} exited with code {code} while starting; log tail:\n{self.log_tail()}"
                )
            with contextlib.suppress(Exception):
                if self._ready():
                    return
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        self.kill()
        raise ServerError(f"{self!r} not ready after {timeout:.0f}s; log tail:\n{self.log_tail()}")

    def _after_exit(self) -> None:
        self._proc = None

    def _new_ports(self) -> None:
        self.port = free_port()
        self._prepared = False


class PostgresServer(Server):
    """PostgreSQL 15 with trust auth on 127.0.0.1, tuned for throwaway speed."""

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: disconnects clients instead of waiting
    user = "postgres"

    def __init__(self, max_connections: int = 200, base_dir: Path | None = None) -> None:
        self.initdb = find_binary("initdb", PG_BIN)
        self.postgres = find_binary("postgres", PG_BIN)
        super().__init__(run_as="postgres" if os.geteuid() == 0 else None, base_dir=base_dir)
        self.max_connections = max_connections
        self.data_dir = self.dir / "data"
        self.socket_dir = self.dir

    def _prepare(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        argv = [self.initdb, "-D", str(self.data_dir), "-U", self.user, "-A", "trust"]
        argv += ["-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        kwargs: dict[str, object] = {}
        if self.run_as is not None:
            kwargs.update(user=self.run_as, group=pwd.getpwnam(self.run_as).pw_gid, extra_groups=[])
        done = subprocess.run(  # type: ignore[call-overload]
            argv, env=self._env(), cwd=self._cwd(), capture_output=True, check=False, **kwargs
        )
        if done.returncode != 0:
            out = (done.stdout + done.stderr).decode(errors="replace")
            raise ServerError(f"initdb failed ({done.returncode}):\n{out[-3000:]}")

    def _argv(self) -> list[str]:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": str(self.max_connections),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "max_prepared_transactions": "20",
        }
        argv = [self.postgres, "-D", str(self.data_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def _ready(self) -> bool:
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), connect_timeout=2):
            return True

    def conninfo(self, db: str = "postgres") -> str:
        """A libpq connection string for ``db``."""
        return f"host={self.host} port={self.port} user={self.user} dbname={db}"

    def dsn(self, db: str = "postgres", driver: str = "asyncpg") -> str:
        """SQLAlchemy URL, e.g. ``postgresql+asyncpg://postgres@127.0.0.1:PORT/db``."""
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{db}"

    def execute(self, sql: str, db: str = "postgres") -> None:
        """Run one statement in autocommit mode."""
        import psycopg

        with psycopg.connect(self.conninfo(db), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str) -> None:
        """CREATE DATABASE ``name`` (dropping an old one of that name first)."""
        self.drop_database(name)
        self.execute(f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS ``name``, disconnecting its sessions."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PgBouncerServer(Server):
    """PgBouncer in transaction pooling mode in front of a PostgresServer."""

    name = "pgbouncer"

    def __init__(
        self,
        postgres: PostgresServer,
        pool_size: int = 4,
        max_client_conn: int = 500,
        base_dir: Path | None = None,
    ) -> None:
        self.binary = find_binary("pgbouncer")
        super().__init__(run_as="postgres" if os.geteuid() == 0 else None, base_dir=base_dir)
        self.postgres = postgres
        self.user = postgres.user
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        self.config_path = self.dir / "pgbouncer.ini"

    def _prepare(self) -> None:
        userlist = self.dir / "userlist.txt"
        userlist.write_text(f'"{self.user}" ""\n')
        self.config_path.write_text(
            "[databases]\n"
            f"* = host={self.postgres.host} port={self.postgres.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = {self.host}\n"
            f"listen_port = {self.port}\n"
            f"unix_socket_dir = {self.dir}\n"
            "auth_type = trust\n"
            f"auth_file = {userlist}\n"
            f"admin_users = {self.user}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            f"max_client_conn = {self.max_client_conn}\n"
            f"pidfile = {self.dir / 'pgbouncer.pid'}\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            "server_reset_query = DISCARD ALL\n"
            "server_check_delay = 1\n"
            "server_login_retry = 1\n"
        )
        if self.run_as is not None:
            pw = pwd.getpwnam(self.run_as)
            for path in (userlist, self.config_path):
                os.chown(path, pw.pw_uid, pw.pw_gid)

    def _argv(self) -> list[str]:
        return [self.binary, str(self.config_path)]

    def dsn(self, db: str = "postgres", driver: str = "asyncpg") -> str:
        """SQLAlchemy URL through the pooler."""
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{db}"

    def conninfo(self, db: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={db}"

    def admin(self, command: str) -> None:
        """Run a command on the ``pgbouncer`` admin console (simple query protocol)."""
        import psycopg

        with psycopg.connect(self.conninfo("pgbouncer"), autocommit=True, connect_timeout=5) as c:
            c.execute(command.encode())

    def pause(self, db: str | None = None) -> None:
        """PAUSE: hold new queries; returns once server connections are released."""
        self.admin(f"PAUSE {db}" if db else "PAUSE")

    def resume(self, db: str | None = None) -> None:
        """RESUME after a pause."""
        self.admin(f"RESUME {db}" if db else "RESUME")


class RedisServer(Server):
    """redis-server without persistence (or with an append-only file when asked)."""

    name = "redis"

    def __init__(self, appendonly: bool = False, base_dir: Path | None = None) -> None:
        self.binary = find_binary("redis-server")
        super().__init__(base_dir=base_dir)
        self.appendonly = appendonly

    def _argv(self) -> list[str]:
        argv = [self.binary, "--port", str(self.port), "--bind", self.host]
        argv += ["--dir", str(self.dir), "--save", "", "--daemonize", "no"]
        argv += ["--appendonly", "yes" if self.appendonly else "no", "--protected-mode", "no"]
        return argv

    def _ready(self) -> bool:
        with socket.create_connection((self.host, self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


class InfluxServer(Server):
    """InfluxDB 1.x (v1 HTTP API) with all of its data in the temp dir and no auth."""

    name = "influxdb"

    def __init__(self, base_dir: Path | None = None) -> None:
        self.binary = find_binary("influxd")
        super().__init__(base_dir=base_dir)
        self.rpc_port = free_port()
        self.config_path = self.dir / "influxdb.conf"

    def _prepare(self) -> None:
        d = self.dir
        self.config_path.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "{self.host}:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{d / "meta"}"\n  logging-enabled = false\n'
            f'[data]\n  dir = "{d / "data"}"\n  wal-dir = "{d / "wal"}"\n'
            "  query-log-enabled = false\n  trace-logging-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
            "[retention]\n  enabled = false\n"
            "[continuous_queries]\n  enabled = false\n"
            "[subscriber]\n  enabled = false\n"
            f'[http]\n  enabled = true\n  bind-address = "{self.host}:{self.port}"\n'
            "  auth-enabled = false\n  log-enabled = false\n  max-body-size = 0\n"
            '[logging]\n  level = "warn"\n'
        )

    def _argv(self) -> list[str]:
        return [self.binary, "run", "-config", str(self.config_path)]

    def _new_ports(self) -> None:
        super()._new_ports()
        self.rpc_port = free_port()

    def _ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as resp:
            return int(resp.status) == 204

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class ProcessServer(Server):
    """Any command (a Celery worker, one of our services) with a readiness probe."""

    name = "process"

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        ready: Callable[[ProcessServer], bool] | None = None,
        name: str = "process",
        ready_timeout: float = 30.0,
        stop_signal: signal.Signals = signal.SIGTERM,
        base_dir: Path | None = None,
    ) -> None:
        self.name = name
        super().__init__(base_dir=base_dir)
        self.argv = list(argv)
        self.extra_env = dict(env or {})
        self.workdir = str(cwd) if cwd is not None else None
        self.probe = ready
        self.ready_timeout = ready_timeout
        self.stop_signal = stop_signal

    def _argv(self) -> list[str]:
        return self.argv

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.extra_env}

    def _cwd(self) -> str:
        return self.workdir or str(self.dir)

    def _ready(self) -> bool:
        if self.probe is None:
            return True
        return self.probe(self)


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.kill()

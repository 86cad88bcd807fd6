"""The one Settings object of the platform (environment variables prefixed ``ALGOTRADE_``)."""

from __future__ import annotations

import functools
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me"  # noqa: S105 - refused outside development
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktc2VjcmV0cy1rZXktY2hhbmdlLW1lISE="  # Fernet key, dev only


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Profile(StrEnum):
    EMBEDDED = "embedded"
    DISTRIBUTED = "distributed"


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Every setting of every service; see ``.env.example`` for the variables."""

    model_config = SettingsConfigDict(
        env_prefix="ALGOTRADE_", env_file=".env", extra="ignore", frozen=True
    )

    environment: Environment = Environment.DEVELOPMENT
    profile: Profile = Profile.EMBEDDED
    data_dir: Path = Path("data")
    log_level: str = "INFO"
    # One line per event: "json" (for a log collector) or "text" (for a terminal).
    log_format: str = Field("text", pattern="^(json|text)$")

    # PostgreSQL (distributed) or SQLite (embedded)
    database_url: str | None = None  # explicit URL wins over the parts below
    db_host: str = "127.0.0.1"
    db_port: int = 5432
    db_name: str = "algotrade"
    db_user: str = "postgres"
    db_password: SecretStr = SecretStr("")
    db_driver: str = Field("asyncpg", pattern="^(asyncpg|psycopg)$")
    db_pool_size: int = 20
    db_max_overflow: int = 10
    db_pool_timeout: float = 30.0
    db_pool_recycle: int = 3600
    db_pool_pre_ping: bool = True
    db_statement_timeout_ms: int = 15_000
    db_connect_timeout: float = 10.0
    # The longest one API request waits on the database, all its statements together,
    # before it is answered 503 (a paused PgBouncer, a lost server, a locked SQLite file).
    api_db_timeout_seconds: float = Field(5.0, gt=0)
    # The API's requests retry a first statement that found its pooled connection dead, so
    # its pool does not ping the server (three round trips) on every checkout.
    api_db_pool_pre_ping: bool = False
    use_pgbouncer: bool = False
    pgbouncer_host: str = "127.0.0.1"
    pgbouncer_port: int = 6432

    # Redis
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_db: int = 0
    redis_password: SecretStr | None = None
    redis_max_connections: int = 50
    redis_cluster_mode: bool = False
    redis_cluster_nodes: CommaList = []
    # A stream consumer (an order processor) given no entry this long and holding none
    # pending is removed from its consumer group (its pending entries were claimed first).
    stream_consumer_expiry_seconds: float = Field(3600.0, gt=0)

    # InfluxDB (v1-compatible HTTP API)
    influx_url: str = "http://127.0.0.1:8086"
    influx_database: str = "algotrade"
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_token: SecretStr | None = None

    # Tokens and passwords
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_kid: str = "k1"
    jwt_previous_keys: CommaList = []  # "kid:secret" pairs still accepted for verification
    access_token_minutes: int = Field(15, ge=1, le=120)
    refresh_token_days: int = Field(7, ge=1, le=90)
    session_timeout_minutes: int = Field(30, ge=1)
    max_login_attempts: int = Field(3, ge=1)
    login_lockout_seconds: int = Field(60, ge=1)
    max_login_attempts_per_address: int = Field(30, ge=1)
    login_address_window_seconds: int = Field(300, ge=1)
    password_hash_concurrency: int = Field(2, ge=1)
    secrets_encryption_keys: CommaList = [DEV_ENCRYPTION_KEY]  # first encrypts; all decrypt

    # HTTP
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Processes of `algotrade serve api` on the one port (uvicorn's workers). Each has its
    # own pools and caches; per-user rate limits are shared through Redis.
    api_workers: int = Field(1, ge=1, le=64)
    ws_port: int = 8001
    cors_origins: CommaList = []
    docs_enabled: bool = True
    max_body_bytes: int = 64 * 1024
    default_page_size: int = 50
    max_page_size: int = 200
    # Per-user REST rate limits (a token bucket per user, reads and writes apart), shared by
    # every gateway process through Redis in the distributed profile. 429 with Retry-After.
    rate_limit_enabled: bool = True
    rate_limit_reads_per_second: float = Field(100.0, gt=0)
    rate_limit_read_burst: int = Field(200, ge=1)
    rate_limit_writes_per_second: float = Field(20.0, gt=0)
    rate_limit_write_burst: int = Field(60, ge=1)
    ws_max_connections_per_user: int = Field(20, ge=1)  # per WebSocket service process

    # Alerts (docs/alerts.md): history kept this many days; deliveries to notification
    # channels retried with exponential back-off (base, cap) up to max attempts; each
    # (user, channel) sends at most `rate` alerts a minute with bursts of `burst`.
    alerts_retention_days: int = Field(90, ge=1)
    alerts_delivery_max_attempts: int = Field(6, ge=1, le=50)
    alerts_delivery_backoff_seconds: float = Field(5.0, gt=0)
    alerts_delivery_backoff_max_seconds: float = Field(900.0, gt=0)
    alerts_delivery_every_seconds: float = Field(1.0, gt=0)
    alerts_channel_rate_per_minute: float = Field(30.0, gt=0)
    alerts_channel_burst: int = Field(10, ge=1)
    alerts_max_channels_per_user: int = Field(20, ge=1)
    alerts_max_price_alerts_per_user: int = Field(200, ge=1)
    # Health (/health, /ready) and Prometheus metrics (/metrics) of the processes that serve no
    # HTTP of their own, each on its own port of probe_host; 0: not served.
    probe_host: str = "127.0.0.1"
    market_data_probe_port: int = Field(0, ge=0, le=65535)
    order_processor_probe_port: int = Field(0, ge=0, le=65535)
    strategy_worker_probe_port: int = Field(0, ge=0, le=65535)
    analytics_worker_probe_port: int = Field(0, ge=0, le=65535)
    alerts_probe_port: int = Field(0, ge=0, le=65535)
    # The longest each dependency check of /ready waits for an answer.
    ready_timeout_seconds: float = Field(2.0, gt=0)

    # Market data
    feed: str = Field("simulated", pattern="^(simulated|replay|binance)$")
    feed_symbols: CommaList = []  # empty: every instrument (simulated) or BTCUSDT,ETHUSDT (binance)
    feed_rate: float = Field(20.0, gt=0)  # simulated ticks per second, all symbols together
    feed_seed: int = 7
    feed_around_the_clock: bool = False  # simulated NSE ticks outside session hours too
    feed_replay_paths: CommaList = []
    feed_replay_speed: float | None = None  # None: as fast as possible
    # Shift the recording so it starts when the replay starts: a recording played as a live
    # feed (with speed 1.0, ticks are stamped as they are sent).
    feed_replay_rebase: bool = False
    feed_binance_url: str = "wss://stream.binance.com:9443"
    # A live feed with no tick for this long while a market of its symbols is open is told
    # stale on feed:status (0: never).
    feed_stale_after_seconds: float = Field(30.0, ge=0)
    # `algotrade data download`: public history sources (docs/market-data-feeds.md).
    download_binance_url: str = "https://api.binance.com"
    download_nse_url: str = "https://nsearchives.nseindia.com"
    download_binance_requests_per_second: float = Field(5.0, gt=0)
    download_nse_requests_per_second: float = Field(1.0, gt=0)
    download_timeout_seconds: float = Field(30.0, gt=0)
    # A rate limit answer (429) asking to wait longer than this ends the download instead.
    download_max_retry_wait_seconds: float = Field(60.0, ge=0)
    candle_grace_seconds: float = Field(2.0, ge=0)
    # Embedded profile, simulated feed: sessions of 1m history written before going live
    # (what is missing only; 0: none).
    feed_history_sessions: int = Field(30, ge=0, le=250)
    # Embedded tick store: candles kept per symbol and timeframe (30 days of 1m crypto: 43,200).
    local_candles_per_series: int = Field(50_000, ge=1_000)
    # A process that reads prices from InfluxDB without writing them (the API) reads a
    # symbol's latest tick again once what it holds is older than this.
    latest_tick_ttl_seconds: float = Field(1.0, ge=0)
    # Strategies act on a candle only this many bars of its timeframe after its close at
    # most; an older one (a task delivered again late) is recorded as skipped.
    strategy_max_candle_age_bars: float = Field(1.0, gt=0)
    # Distributed profile: the evaluation ledger (docs/operations.md). An evaluation task
    # not finished this long after it was sent (lost by a worker killed as it took it) is
    # sent again by the market data engine, the delay doubling after each send, at most
    # MAX_ATTEMPTS times (then given up, logged at ERROR); the engine looks for due tasks
    # every EVERY_SECONDS.
    evaluation_redispatch_after_seconds: float = Field(20.0, gt=0)
    evaluation_redispatch_max_attempts: int = Field(5, ge=0, le=20)
    evaluation_redispatch_every_seconds: float = Field(5.0, gt=0)
    # Backtests (docs/backtesting.md): per-user limits on the REST runs.
    backtest_max_concurrent: int = Field(2, ge=1, le=100)
    backtest_max_bars: int = Field(2_000_000, ge=1_000)
    backtest_max_sweep_points: int = Field(200, ge=1)
    # A sweep's grid points run in parallel. Embedded: a process pool of the gateway, this
    # many processes shared by every sweep (1: one point after the other in the run's
    # thread). Distributed: Celery tasks on the backtest queue, this many points per task.
    backtest_sweep_processes: int = Field(2, ge=1, le=64)
    backtest_sweep_points_per_task: int = Field(4, ge=1, le=1000)
    # Candles uploaded to backtest on: the largest file, and how many a user keeps.
    backtest_max_upload_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    backtest_max_datasets: int = Field(20, ge=1)
    # Distributed profile: run backtests as Celery tasks on this queue (embedded: in-process).
    backtest_queue: str = "analytics"
    # The Celery queues an analytics worker takes, comma-separated; empty: the backtest queue
    # and the alerts queue. A worker of "alerts" alone keeps deliveries clear of long runs.
    analytics_worker_queues: str = Field("", pattern=r"^[A-Za-z0-9_.-]*(,[A-Za-z0-9_.-]+)*$")

    # Trading defaults
    # A paper account's capital when none is given: 50,000 in an INR account, 10,000 in a USD
    # or USDT one (the default 1,000 capital reserve must leave room; docs/orders.md "Currencies").
    paper_starting_capital: Decimal = Decimal("50000")
    paper_starting_capital_usd: Decimal = Decimal("10000")
    base_currency: str = "INR"

    # Alert channel senders (docs/alerts-channels.md). Loopback destinations, and plain
    # http to them only, are for tests and local receivers; refused in production.
    alerts_allow_loopback: bool = False
    alerts_telegram_api_url: str = "https://api.telegram.org"
    alerts_http_connect_timeout_seconds: float = Field(5.0, gt=0)
    alerts_http_read_timeout_seconds: float = Field(10.0, gt=0)
    alerts_http_max_response_bytes: int = Field(64 * 1024, ge=1024)
    alerts_smtp_timeout_seconds: float = Field(20.0, gt=0)

    def paper_capital(self, currency: str) -> Decimal:
        """The default starting capital of a paper account in ``currency``."""
        return self.paper_starting_capital if currency == "INR" else self.paper_starting_capital_usd

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in (
                "redis_cluster_nodes",
                "jwt_previous_keys",
                "secrets_encryption_keys",
                "cors_origins",
                "feed_symbols",
                "feed_replay_paths",
            ):
                if key in data:
                    data[key] = _split(data[key])
        return data

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Self:
        if self.environment is Environment.DEVELOPMENT:
            return self
        problems = []
        if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
            problems.append("ALGOTRADE_JWT_SECRET is the development default")
        elif len(self.jwt_secret.get_secret_value()) < 32:
            problems.append("ALGOTRADE_JWT_SECRET must be at least 32 characters")
        if DEV_ENCRYPTION_KEY in self.secrets_encryption_keys:
            problems.append("ALGOTRADE_SECRETS_ENCRYPTION_KEYS contains the development key")
        if "*" in self.cors_origins:
            problems.append("ALGOTRADE_CORS_ORIGINS may not be '*' outside development")
        if self.environment is Environment.PRODUCTION and self.alerts_allow_loopback:
            problems.append("ALGOTRADE_ALERTS_ALLOW_LOOPBACK may not be on in production")
        if problems:
            raise ValueError(
                f"refusing to start in {self.environment.value}: "
                + "; ".join(problems)
                + ". Set real secrets (see .env.example)."
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """Where the services connect: SQLite (embedded), PostgreSQL, or PgBouncer."""
        if self.database_url:
            return self.database_url
        if self.profile is Profile.EMBEDDED:
            return f"sqlite+aiosqlite:///{self.data_dir / 'algotrade.db'}"
        host, port = (
            (self.pgbouncer_host, self.pgbouncer_port)
            if self.use_pgbouncer
            else (self.db_host, self.db_port)
        )
        return self._pg_url(host, port)

    @property
    def migration_url(self) -> str:
        """Where migrations run: always straight to PostgreSQL, never through PgBouncer."""
        if self.database_url or self.profile is Profile.EMBEDDED:
            return self.sqlalchemy_url
        return self._pg_url(self.db_host, self.db_port)

    def _pg_url(self, host: str, port: int) -> str:
        password = self.db_password.get_secret_value()
        auth = f"{self.db_user}:{password}" if password else self.db_user
        return f"postgresql+{self.db_driver}://{auth}@{host}:{port}/{self.db_name}"


@functools.cache
def get_settings() -> Settings:
    """Settings read once from the environment; pass them on explicitly from there."""
    return Settings()

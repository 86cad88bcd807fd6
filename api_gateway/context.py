"""Everything the gateway's routes need, built once by the composition root and passed in."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from analytics_service.api import Launcher, ReportCache, launcher_from_settings
from api_gateway.services.quotes import QuoteService
from api_gateway.services.throttle import AddressThrottle
from shared.bus import EventBus
from shared.clock import Clock, SystemClock
from shared.config import Environment, Settings
from shared.db import autocommit_engine, create_engine, create_sessionmaker
from shared.outbox import Relay
from shared.ratelimit import InMemoryRateLimiter, RateLimiter
from shared.security.jwt import JWTKeys
from shared.security.passwords import PasswordHasher
from shared.security.secrets import SecretBox
from shared.tickstore import TickStore, tickstore_from_settings


@dataclass
class GatewayContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    hasher: PasswordHasher
    jwt: JWTKeys
    secrets: SecretBox
    clock: Clock
    address_throttle: AddressThrottle
    bus: EventBus | None = None  # None: nothing is published
    tick_store: TickStore | None = None
    rate_limiter: RateLimiter | None = None  # None: requests are not rate limited
    extras: dict[str, object] = field(default_factory=dict)
    relay: Relay = field(init=False)
    """Publishes the events of committed requests (the transactional outbox)."""
    analytics_cache: ReportCache = field(default_factory=ReportCache)
    """Computed performance reports of this process (refreshed when fills arrive)."""
    backtest_launcher: Launcher | None = None
    """Runs submitted backtests; made from settings on first use (``backtests()``)."""
    quote_service: QuoteService | None = None
    """Quotes of every user of this process; made on first use (``quotes()``)."""
    read_sessions: async_sessionmaker[AsyncSession] | None = None
    """Sessions of read requests: read-only, in autocommit where the database allows it
    (None: ``sessions``)."""

    def __post_init__(self) -> None:
        self.relay = Relay(self.sessions, self.bus)
        if self.read_sessions is None:
            self.read_sessions = self.sessions

    def backtests(self) -> Launcher:
        """The backtest launcher: in this process (embedded) or Celery tasks (distributed)."""
        if self.backtest_launcher is None:
            self.backtest_launcher = launcher_from_settings(
                self.settings,
                sessions=self.sessions,
                tickstore=self.tickstore(),
                clock=self.clock,
                bus=self.bus,
            )
        return self.backtest_launcher

    def quotes(self) -> QuoteService:
        """The quote service over the tick store: what it builds is reused until a candle
        of the symbol closes (the app follows the bus), or for ``latest_tick_ttl_seconds``
        without the bus's events."""
        if self.quote_service is None:
            self.quote_service = QuoteService(
                self.tickstore(), ttl=self.settings.latest_tick_ttl_seconds
            )
        return self.quote_service

    def tickstore(self) -> TickStore:
        """The tick store, created from settings on first use."""
        if self.tick_store is None:
            self.tick_store = tickstore_from_settings(self.settings)
        return self.tick_store

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        bus: EventBus | None = None,
        engine: AsyncEngine | None = None,
        tick_store: TickStore | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> GatewayContext:
        """The context from settings; requests are rate limited in process unless a shared
        ``rate_limiter`` is given (the distributed API passes the Redis one)."""
        engine = engine or create_engine(settings, pre_ping=settings.api_db_pool_pre_ping)
        budget = settings.api_db_timeout_seconds
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_sessionmaker(engine, timeout=budget),
            read_sessions=create_sessionmaker(
                autocommit_engine(engine, behind_bouncer=settings.use_pgbouncer),
                timeout=budget,
                read_only=True,
            ),
            hasher=PasswordHasher(
                concurrency=settings.password_hash_concurrency,
                fast_for_tests=settings.environment is Environment.TEST,
            ),
            jwt=JWTKeys(settings),
            secrets=SecretBox(settings.secrets_encryption_keys),
            clock=clock or SystemClock(),
            address_throttle=AddressThrottle(
                settings.max_login_attempts_per_address, settings.login_address_window_seconds
            ),
            bus=bus,
            tick_store=tick_store,
            rate_limiter=(rate_limiter or InMemoryRateLimiter())
            if settings.rate_limit_enabled
            else None,
        )

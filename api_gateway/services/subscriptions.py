"""Strategy subscriptions: validated against the catalog, owned by the user, announced to workers.

Every change is announced after commit with a ``subscription_changed`` control
event, so the strategy workers use it from the next candle without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from api_gateway.context import GatewayContext
from api_gateway.deps import UnitOfWork
from api_gateway.repositories.audit import AuditRepository
from api_gateway.repositories.brokers import BrokerAccountRepository
from api_gateway.repositories.subscriptions import SignalRepository, SubscriptionRepository
from api_gateway.schemas.strategies import SubscriptionCreate, SubscriptionUpdate
from api_gateway.services.auth import RequestMeta
from shared.candle_cache import DEFAULT_DEPTH
from shared.contracts import ControlEvent, SubscriptionStatus, Timeframe
from shared.errors import Conflict, Unprocessable
from shared.instruments import load_catalog
from shared.models import BrokerAccount, SignalRecord, StrategySubscription, User
from shared.repository import Page
from strategy_workers.api import build_sizer, get_strategy, validate_params, warmup_bars

PAPER_BROKERS = frozenset({"paper"})


@dataclass(frozen=True)
class _Settings:
    """A subscription's settings after validation: what is stored."""

    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    timeframe: Timeframe
    broker_account_id: int
    sizing_method: str
    sizing_params: dict[str, Any]
    capital_allocation: Decimal
    mode: str


class SubscriptionService:
    def __init__(self, ctx: GatewayContext, uow: UnitOfWork, user: User) -> None:
        self.ctx = ctx
        self.uow = uow
        self.user = user
        self.repo = SubscriptionRepository(uow.session, user.id)
        self.accounts = BrokerAccountRepository(uow.session, user.id)
        self.audit = AuditRepository(uow.session)

    @property
    def now(self) -> datetime:
        return self.ctx.clock.now()

    async def create(self, data: SubscriptionCreate, meta: RequestMeta) -> StrategySubscription:
        settings = await self._validate(
            strategy=data.strategy,
            params=data.params,
            symbols=data.symbols,
            timeframe=data.timeframe,
            broker_account_id=data.broker_account_id,
            sizing_method=data.sizing_method,
            sizing_params=data.sizing_params,
            capital_allocation=data.capital_allocation,
            mode=data.mode,
        )
        row = StrategySubscription(
            name=data.name, status=SubscriptionStatus.ACTIVE, **_columns(settings)
        )
        self.repo.add(row)
        await self.repo.session.flush()
        self._changed("subscription.create", row, meta)
        return row

    async def list(
        self, limit: int, offset: int, status: SubscriptionStatus | None
    ) -> Page[StrategySubscription]:
        where = [] if status is None else [StrategySubscription.status == status]
        return await self.repo.list(limit, offset, *where)

    async def get(self, subscription_id: int) -> StrategySubscription:
        return await self.repo.get(subscription_id)

    async def update(
        self, subscription_id: int, data: SubscriptionUpdate, meta: RequestMeta
    ) -> StrategySubscription:
        row = await self.repo.get(subscription_id, for_update=True)
        strategy = data.strategy or row.strategy
        sizing_method = data.sizing_method or row.sizing_method
        # A new strategy (or sizing method) starts from its defaults unless parameters are given.
        params = (
            data.params if data.params is not None else _kept(row.params, row.strategy, strategy)
        )
        sizing = (
            data.sizing_params
            if data.sizing_params is not None
            else _kept(row.sizing_params, row.sizing_method, sizing_method)
        )
        settings = await self._validate(
            strategy=strategy,
            params=params,
            symbols=data.symbols if data.symbols is not None else list(row.symbols),
            timeframe=data.timeframe or Timeframe(row.timeframe),
            broker_account_id=data.broker_account_id or row.broker_account_id,
            sizing_method=sizing_method,
            sizing_params=sizing,
            capital_allocation=data.capital_allocation or row.capital_allocation,
            mode=data.mode or row.mode,
        )
        for key, value in _columns(settings).items():
            setattr(row, key, value)
        if data.name is not None:
            row.name = data.name
        row.updated_at = self.now
        await self.repo.session.flush()
        self._changed(
            "subscription.update", row, meta, fields=sorted(data.model_dump(exclude_unset=True))
        )
        return row

    async def set_status(
        self, subscription_id: int, status: SubscriptionStatus, meta: RequestMeta
    ) -> StrategySubscription:
        """Pause or resume; asking for the current status changes nothing and succeeds."""
        row = await self.repo.get(subscription_id, for_update=True)
        if row.status != status:
            resuming = status is SubscriptionStatus.ACTIVE
            if resuming and (await self.accounts.get(row.broker_account_id)).closed_at:
                raise Conflict(
                    "the subscription's broker account is closed; it cannot run again",
                    code="account_closed",
                )
            row.status = status
            row.updated_at = self.now
            await self.repo.session.flush()
            self._changed(f"subscription.{'resume' if resuming else 'pause'}", row, meta)
        return row

    async def delete(self, subscription_id: int, meta: RequestMeta) -> None:
        row = await self.repo.get(subscription_id, for_update=True)
        self._changed("subscription.delete", row, meta)
        await self.repo.delete(row)

    async def signals(
        self, limit: int, offset: int, subscription_id: int | None, symbol: str | None
    ) -> Page[SignalRecord]:
        repo = SignalRepository(self.uow.session, self.user.id)
        return await repo.search(
            limit,
            offset,
            subscription_id=subscription_id,
            symbol=symbol.upper() if symbol else None,
        )

    async def _validate(self, **raw: Any) -> _Settings:
        """Every rule at once: one 422 lists every wrong field; another user's account is a 404."""
        account = await self.accounts.get(raw["broker_account_id"])
        details: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        sizing: dict[str, Any] = {}
        try:
            params = validate_params(raw["strategy"], raw["params"]).model_dump(mode="json")
            details += _window_too_long(raw["strategy"], params)
            supported = get_strategy(raw["strategy"]).timeframes
            if raw["timeframe"] not in supported:
                options = ", ".join(sorted(tf.value for tf in supported))
                details.append(_detail("timeframe", f"the strategy supports {options}"))
        except Unprocessable as exc:
            details += exc.details
        try:
            sizer = build_sizer(raw["sizing_method"], raw["sizing_params"])
            sizing = sizer.params.model_dump(mode="json")
        except Unprocessable as exc:
            details += exc.details
        details += _unknown_symbols(raw["symbols"])
        details += _currency_mismatches(raw["symbols"], account)
        details += _account_problems(account, raw["mode"])
        if details:
            summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
            raise Unprocessable(
                f"invalid subscription: {summary}", code="invalid_subscription", details=details
            )
        return _Settings(
            strategy=raw["strategy"],
            params=params,
            symbols=list(raw["symbols"]),
            timeframe=raw["timeframe"],
            broker_account_id=account.id,
            sizing_method=raw["sizing_method"],
            sizing_params=sizing,
            capital_allocation=raw["capital_allocation"],
            mode=raw["mode"],
        )

    def _changed(
        self, action: str, row: StrategySubscription, meta: RequestMeta, **details: object
    ) -> None:
        self.audit.record(
            action,
            actor_id=self.user.id,
            ts=self.now,
            target_type="subscription",
            target_id=row.id,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
            details={"strategy": row.strategy, "status": row.status, **details},
        )
        # Published by the unit of work only after the commit.
        self.uow.events.append(
            ControlEvent(
                action="subscription_changed",
                user_id=self.user.id,
                subscription_id=row.id,
                ts=self.now,
            )
        )


def _columns(settings: _Settings) -> dict[str, Any]:
    return {
        "strategy": settings.strategy,
        "params": settings.params,
        "symbols": settings.symbols,
        "timeframe": settings.timeframe.value,
        "broker_account_id": settings.broker_account_id,
        "sizing_method": settings.sizing_method,
        "sizing_params": settings.sizing_params,
        "capital_allocation": settings.capital_allocation,
        "mode": settings.mode,
    }


def _kept(current: dict[str, Any], old_name: str, new_name: str) -> dict[str, Any]:
    return dict(current or {}) if old_name == new_name else {}


def _detail(field: str, message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


def _window_too_long(strategy: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Live strategy windows come from the candle cache, which keeps the last
    ``DEFAULT_DEPTH`` candles of a market: a strategy reading more would never signal."""
    needed = warmup_bars(strategy, params)
    if needed <= DEFAULT_DEPTH:
        return []
    return [
        _detail(
            "params",
            f"with these parameters the strategy reads {needed} bars, and live windows hold "
            f"the last {DEFAULT_DEPTH} candles: use shorter periods",
        )
    ]


def _unknown_symbols(symbols: list[str]) -> list[dict[str, Any]]:
    catalog = load_catalog()
    return [
        _detail(f"symbols.{i}", f"unknown instrument {symbol!r}")
        for i, symbol in enumerate(symbols)
        if symbol not in catalog
    ]


def _currency_mismatches(symbols: list[str], account: BrokerAccount) -> list[dict[str, Any]]:
    """Symbols quoted in another currency than the account's: nothing converts between them."""
    catalog = load_catalog()
    quoted = {s: catalog.get(s).currency for s in symbols if s in catalog}
    return [
        _detail(
            f"symbols.{i}",
            f"{symbol} is quoted in {quoted[symbol]} but the broker account is in "
            f"{account.currency}",
        )
        for i, symbol in enumerate(symbols)
        if symbol in quoted and quoted[symbol] != account.currency
    ]


def _account_problems(account: BrokerAccount, mode: str) -> list[dict[str, Any]]:
    problems = []
    if account.closed_at is not None:
        problems.append(_detail("broker_account_id", "the broker account is closed"))
    elif not account.is_active:
        problems.append(_detail("broker_account_id", "the broker account is inactive"))
    if mode == "live" and account.broker in PAPER_BROKERS:
        problems.append(
            _detail("mode", "a paper broker account trades in paper mode only; link a live broker")
        )
    return problems

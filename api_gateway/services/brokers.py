"""Linking broker accounts: credentials are encrypted before they touch the database.

An account's history (orders, fills, ledger, positions, subscriptions) is never
erased: an account that has any is closed, not deleted. Closing is final; the
account stays readable with everything it did.
"""

from __future__ import annotations

from datetime import datetime

import orjson

from api_gateway.context import GatewayContext
from api_gateway.deps import UnitOfWork
from api_gateway.repositories.audit import AuditRepository
from api_gateway.repositories.brokers import BrokerAccountRepository
from api_gateway.schemas.brokers import BrokerAccountCreate, BrokerAccountUpdate
from api_gateway.services.auth import RequestMeta
from api_gateway.services.orders import forget_account
from api_gateway.services.subscriptions import SubscriptionService
from shared.contracts import ControlEvent, SubscriptionStatus
from shared.errors import Conflict
from shared.models import BrokerAccount, User
from shared.repository import Page
from shared.security.secrets import mask


class BrokerAccountService:
    def __init__(self, ctx: GatewayContext, uow: UnitOfWork, user: User) -> None:
        self.ctx = ctx
        self.uow = uow
        self.user = user
        self.repo = BrokerAccountRepository(uow.session, user.id)
        self.audit = AuditRepository(uow.session)

    @property
    def now(self) -> datetime:
        return self.ctx.clock.now()

    async def create(self, data: BrokerAccountCreate, meta: RequestMeta) -> BrokerAccount:
        if await self.repo.label_taken(data.label):
            raise Conflict("you already have a broker account with this label", code="label_taken")
        account = BrokerAccount(
            broker=data.broker,
            label=data.label,
            starting_capital=data.starting_capital
            or self.ctx.settings.paper_capital(data.currency),
            currency=data.currency,
        )
        self._set_credentials(account, data.credentials)
        self.repo.add(account)
        await self.repo.session.flush()
        self._audit("broker_account.create", account, meta)
        return account

    async def list(self, limit: int, offset: int) -> Page[BrokerAccount]:
        return await self.repo.list(limit, offset)

    async def get(self, account_id: int) -> BrokerAccount:
        return await self.repo.get(account_id)

    async def update(
        self, account_id: int, data: BrokerAccountUpdate, meta: RequestMeta
    ) -> BrokerAccount:
        account = await self.repo.get(account_id, for_update=True)
        if data.label is not None and data.label != account.label:
            if await self.repo.label_taken(data.label, exclude_id=account.id):
                raise Conflict(
                    "you already have a broker account with this label", code="label_taken"
                )
            account.label = data.label
        if data.credentials is not None:
            self._set_credentials(account, data.credentials)
        if data.is_active is not None:
            if data.is_active and account.closed_at is not None:
                raise Conflict("a closed broker account cannot be reopened", code="account_closed")
            account.is_active = data.is_active
        self._audit(
            "broker_account.update",
            account,
            meta,
            fields=sorted(data.model_dump(exclude_unset=True)),
        )
        return account

    async def delete(self, account_id: int, meta: RequestMeta) -> None:
        """Delete an account that never did anything; one with history is refused (409)."""
        account = await self.repo.get(account_id, for_update=True)
        history = {k: n for k, n in (await self.repo.history(account.id)).items() if n}
        if history:
            raise Conflict(
                f"the broker account has history ({_listed(history)}) and is kept; "
                "close it instead (POST .../close)",
                code="account_has_history",
                details=_count_details(history),
            )
        self._audit("broker_account.delete", account, meta)
        self._forget(account, "deleted")
        await self.repo.delete(account)

    async def close(self, account_id: int, meta: RequestMeta) -> BrokerAccount:
        """Close for good: no new orders or subscriptions; running subscriptions are paused.

        Refused (409) while the account has open positions or orders that may
        still fill: only the order processor writes orders, so the trader
        closes the positions (and cancels the orders) first. Closing a closed
        account changes nothing.
        """
        account = await self.repo.get(account_id, for_update=True)
        if account.closed_at is not None:
            return account
        exposure = {k: n for k, n in (await self.repo.exposure(account.id)).items() if n}
        if exposure:
            raise Conflict(
                f"the broker account still has {_listed(exposure)}; close its positions and "
                "cancel its orders first",
                code="account_not_flat",
                details=_count_details(exposure),
            )
        account.closed_at = self.now
        account.is_active = False
        subscriptions = SubscriptionService(self.ctx, self.uow, self.user)
        paused = [
            row.id for row in await self.repo.subscriptions(account.id, SubscriptionStatus.ACTIVE)
        ]
        for subscription_id in paused:
            await subscriptions.set_status(subscription_id, SubscriptionStatus.PAUSED, meta)
        self._audit("broker_account.close", account, meta, paused_subscriptions=paused)
        self._forget(account, "closed")
        return account

    def _forget(self, account: BrokerAccount, reason: str) -> None:
        """Drop this process's cached state of the account; tell the others after commit."""
        forget_account(self.ctx, account.id)
        self.uow.events.append(
            ControlEvent(
                action="account_closed",
                user_id=self.user.id,
                broker_account_id=account.id,
                reason=reason,
                ts=self.now,
            )
        )

    def _set_credentials(self, account: BrokerAccount, creds: dict[str, str] | None) -> None:
        if not creds:
            account.credentials_encrypted = None
            account.credentials_hint = None
            return
        blob = orjson.dumps(creds, option=orjson.OPT_SORT_KEYS).decode()
        account.credentials_encrypted = self.ctx.secrets.encrypt(blob)
        longest = max(creds.values(), key=len)
        account.credentials_hint = mask(longest)

    def _audit(
        self, action: str, account: BrokerAccount, meta: RequestMeta, **details: object
    ) -> None:
        # Never the credentials themselves: only which account and which fields changed.
        self.audit.record(
            action,
            actor_id=self.user.id,
            ts=self.now,
            target_type="broker_account",
            target_id=account.id,
            ip_address=meta.ip_address,
            user_agent=meta.user_agent,
            details={"label": account.label, **details},
        )


def _listed(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {_NOUNS[k][n != 1]}" for k, n in counts.items())


def _count_details(counts: dict[str, int]) -> list[dict[str, object]]:
    return [
        {"field": k, "message": f"{n} {_NOUNS[k][n != 1]}", "count": n} for k, n in counts.items()
    ]


_NOUNS = {
    "orders": ("order", "orders"),
    "fills": ("fill", "fills"),
    "ledger_entries": ("ledger entry", "ledger entries"),
    "positions": ("position", "positions"),
    "subscriptions": ("strategy subscription", "strategy subscriptions"),
    "open_positions": ("open position", "open positions"),
    "working_orders": ("order that may still fill", "orders that may still fill"),
}

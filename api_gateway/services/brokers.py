"""Linking broker accounts: credentials are encrypted before they touch the database."""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from api_gateway.context import GatewayContext
from api_gateway.repositories.audit import AuditRepository
from api_gateway.repositories.brokers import BrokerAccountRepository
from api_gateway.schemas.brokers import BrokerAccountCreate, BrokerAccountUpdate
from api_gateway.services.auth import RequestMeta
from shared.errors import Conflict
from shared.models import BrokerAccount, User
from shared.repository import Page
from shared.security.secrets import mask


class BrokerAccountService:
    def __init__(self, ctx: GatewayContext, session: AsyncSession, user: User) -> None:
        self.ctx = ctx
        self.user = user
        self.repo = BrokerAccountRepository(session, user.id)
        self.audit = AuditRepository(session)

    @property
    def now(self) -> datetime:
        return self.ctx.clock.now()

    async def create(self, data: BrokerAccountCreate, meta: RequestMeta) -> BrokerAccount:
        if await self.repo.label_taken(data.label):
            raise Conflict("you already have a broker account with this label", code="label_taken")
        account = BrokerAccount(
            broker=data.broker,
            label=data.label,
            starting_capital=data.starting_capital or self.ctx.settings.paper_starting_capital,
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
            account.is_active = data.is_active
        self._audit(
            "broker_account.update",
            account,
            meta,
            fields=sorted(data.model_dump(exclude_unset=True)),
        )
        return account

    async def delete(self, account_id: int, meta: RequestMeta) -> None:
        account = await self.repo.get(account_id, for_update=True)
        self._audit("broker_account.delete", account, meta)
        await self.repo.delete(account)

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

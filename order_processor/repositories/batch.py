"""Reads and locks for deciding many accounts' orders in one transaction.

Each query covers every account of a batch at once (one round trip, whatever
the batch's size). Accounts are always named with their owner, ``(user_id,
account_id)``, and every query is scoped by both, so a batch can only read
what belongs to the users whose intents it holds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    and_,
    any_,
    bindparam,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.domain.risk import RiskLimits
from order_processor.repositories.book import FILL_TERMS, FillTerms
from order_processor.repositories.orders import OPEN_STATES
from shared.batch_sql import bound_rows, fetch_rows, on_postgres, pair_of
from shared.models import BrokerAccount, Fill, Order, TradingHalt, UserRiskLimits

AccountKey = tuple[int, int]
"""(user_id, broker_account_id)"""


class OpenOrder(NamedTuple):
    """What deciding another order needs of an account's order that was sent and is not
    finished."""

    id: int
    symbol: str
    side: str
    product: str
    quantity: Decimal
    filled_quantity: Decimal
    limit_price: Decimal | None
    trigger_price: Decimal | None


# PostgreSQL: the batch's statements built once, their keys bound as arrays (one text,
# prepared once per connection, whatever the batch's size; building and keying a statement
# for every batch cost more than running it).

_USERS = bindparam("users", type_=ARRAY(BigInteger))
_ACCOUNTS = bound_rows(user_id=("users", BigInteger()), account_id=("accounts", BigInteger()))
"""The accounts of a batch, ``(user_id, account_id)`` pairs as two arrays."""


def _of_accounts(user_id: Any, account_id: Any) -> ColumnElement[bool]:
    return tuple_(user_id, account_id).in_(select(_ACCOUNTS.c.user_id, _ACCOUNTS.c.account_id))


_LOCK_ACCOUNTS = (
    select(BrokerAccount)
    .where(_of_accounts(BrokerAccount.user_id, BrokerAccount.id))
    .order_by(BrokerAccount.id)
    .with_for_update()
    .execution_options(populate_existing=True)
)
_KEYS = bound_rows(user_id=("users", BigInteger()), client_order_id=("keys", String()))
_ORDERS_BY_KEY = select(Order).where(
    tuple_(Order.user_id, Order.client_order_id).in_(
        select(_KEYS.c.user_id, _KEYS.c.client_order_id)
    )
)
_OPEN_COLUMNS = (
    Order.broker_account_id,
    Order.id,
    Order.symbol,
    Order.side,
    Order.product,
    Order.quantity,
    Order.filled_quantity,
    Order.limit_price,
    Order.trigger_price,
)
_OPEN_ORDERS = (
    select(*_OPEN_COLUMNS)
    .where(
        _of_accounts(Order.user_id, Order.broker_account_id),
        Order.status == any_(bindparam("states", type_=ARRAY(String))),
    )
    .order_by(Order.id)
)
_OPEN_STATE_VALUES = sorted(OPEN_STATES)
_SUBMIT_TIMES = select(Order.broker_account_id, Order.submitted_at).where(
    _of_accounts(Order.user_id, Order.broker_account_id),
    Order.submitted_at >= bindparam("since"),
)
_HALT_SCOPES = select(TradingHalt.user_id).where(
    TradingHalt.cleared_at.is_(None),
    or_(TradingHalt.user_id.is_(None), TradingHalt.user_id == any_(_USERS)),
)
_LIMITS = select(UserRiskLimits.user_id, UserRiskLimits.limits).where(
    UserRiskLimits.user_id == any_(_USERS)
)

_SEEN = bound_rows(
    user_id=("users", BigInteger()),
    account_id=("accounts", BigInteger()),
    last=("lasts", BigInteger()),
)
_FILLS_AFTER = (
    select(*FILL_TERMS)
    .join(Order, Order.id == Fill.order_id)
    .join(
        _SEEN,
        and_(
            Fill.user_id == _SEEN.c.user_id,
            Fill.broker_account_id == _SEEN.c.account_id,
            Fill.id > _SEEN.c.last,
        ),
    )
    .order_by(Fill.id)
)
"""PostgreSQL: each account's fills above its last id seen (``users``, ``accounts`` and
``lasts`` side by side as arrays)."""


class BatchQueries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_accounts(self, keys: Collection[AccountKey]) -> dict[int, BrokerAccount]:
        """The accounts among ``keys`` that exist and belong to their user, locked in id order
        (the order every locker of several accounts takes, so none deadlocks)."""
        if not keys:
            return {}
        if on_postgres(self.session):
            found = await self.session.scalars(_LOCK_ACCOUNTS, _account_params(keys))
            return {a.id: a for a in found.all()}
        stmt = (
            select(BrokerAccount)
            .where(pair_of(self.session, (BrokerAccount.user_id, BrokerAccount.id), keys))
            .order_by(BrokerAccount.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return {a.id: a for a in (await self.session.scalars(stmt)).all()}

    async def orders_by_key(
        self, keys: Collection[tuple[int, str]]
    ) -> dict[tuple[int, str], Order]:
        """Stored orders by ``(user_id, client_order_id)``."""
        if not keys:
            return {}
        if on_postgres(self.session):
            params = {"users": [k[0] for k in keys], "keys": [k[1] for k in keys]}
            found = await self.session.scalars(_ORDERS_BY_KEY, params)
        else:
            found = await self.session.scalars(
                select(Order).where(
                    pair_of(self.session, (Order.user_id, Order.client_order_id), keys)
                )
            )
        return {(o.user_id, o.client_order_id): o for o in found.all()}

    async def open_orders(self, keys: Collection[AccountKey]) -> dict[int, list[OpenOrder]]:
        """Each account's orders that were sent and are not finished, oldest first."""
        out: dict[int, list[OpenOrder]] = {account_id: [] for _, account_id in keys}
        if not keys:
            return out
        if on_postgres(self.session):
            found: Iterable[Sequence[Any]] = await fetch_rows(
                self.session,
                "orders.open",
                _OPEN_ORDERS,
                {**_account_params(keys), "states": _OPEN_STATE_VALUES},
                tuples=True,
            )
        else:
            stmt = (
                select(*_OPEN_COLUMNS)
                .where(
                    pair_of(self.session, (Order.user_id, Order.broker_account_id), keys),
                    Order.status.in_(OPEN_STATES),
                )
                .order_by(Order.id)
            )
            found = (await self.session.execute(stmt)).all()
        for r in found:
            out[r[0]].append(OpenOrder(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]))
        return out

    async def submit_times(
        self, keys: Collection[AccountKey], since: datetime
    ) -> dict[int, list[datetime]]:
        """When each account's orders went to the broker, from ``since`` on."""
        out: dict[int, list[datetime]] = {account_id: [] for _, account_id in keys}
        if not keys:
            return out
        if on_postgres(self.session):
            params = {**_account_params(keys), "since": since}
            found: Iterable[Sequence[Any]] = await fetch_rows(
                self.session, "orders.submit_times", _SUBMIT_TIMES, params, tuples=True
            )
        else:
            stmt = select(Order.broker_account_id, Order.submitted_at).where(
                pair_of(self.session, (Order.user_id, Order.broker_account_id), keys),
                Order.submitted_at >= since,
            )
            found = (await self.session.execute(stmt)).all()
        for account_id, ts in found:
            out[account_id].append(ts)
        return out

    async def fills_after(self, last_ids: Mapping[AccountKey, int]) -> Sequence[FillTerms]:
        """Each account's fills above its last id seen, in id order."""
        if not last_ids:
            return []
        if on_postgres(self.session):  # one statement, compiled once (through the driver)
            params = {
                "users": [user_id for user_id, _ in last_ids],
                "accounts": [account_id for _, account_id in last_ids],
                "lasts": list(last_ids.values()),
            }
            rows = await fetch_rows(self.session, "fills.after", _FILLS_AFTER, params)
            return [FillTerms(**row) for row in rows]
        stmt = (
            select(*FILL_TERMS)
            .join(Order, Order.id == Fill.order_id)
            .where(
                or_(
                    *(
                        and_(
                            Fill.user_id == user_id,
                            Fill.broker_account_id == account_id,
                            Fill.id > last,
                        )
                        for (user_id, account_id), last in last_ids.items()
                    )
                )
            )
            .order_by(Fill.id)
        )
        return [FillTerms(*row) for row in await self.session.execute(stmt)]

    async def halt_scopes(self, user_ids: Iterable[int]) -> dict[int, list[int | None]]:
        """The scopes of the active halts that stop each user (None: the global halt)."""
        users = set(user_ids)
        out: dict[int, list[int | None]] = {u: [] for u in users}
        if not users:
            return out
        if on_postgres(self.session):
            found: Iterable[Sequence[Any]] = await fetch_rows(
                self.session, "halts.scopes", _HALT_SCOPES, {"users": list(users)}, tuples=True
            )
        else:
            stmt = select(TradingHalt.user_id).where(
                TradingHalt.cleared_at.is_(None),
                or_(TradingHalt.user_id.is_(None), TradingHalt.user_id.in_(users)),
            )
            found = (await self.session.execute(stmt)).all()
        for (scope,) in found:
            for user_id in users if scope is None else (scope,):
                out[user_id].append(scope)
        return out

    async def limits(self, user_ids: Iterable[int]) -> dict[int, RiskLimits]:
        """Each user's risk limits; the platform defaults for a user with none stored."""
        users = set(user_ids)
        out = dict.fromkeys(users, RiskLimits())
        if not users:
            return out
        if on_postgres(self.session):
            found: Iterable[Sequence[Any]] = await fetch_rows(
                self.session, "limits.of_users", _LIMITS, {"users": list(users)}, tuples=True
            )
        else:
            stmt = select(UserRiskLimits.user_id, UserRiskLimits.limits).where(
                UserRiskLimits.user_id.in_(users)
            )
            found = (await self.session.execute(stmt)).all()
        for user_id, limits in found:
            if limits:
                out[user_id] = _risk_limits(limits)
        return out


def _account_params(keys: Collection[AccountKey]) -> dict[str, list[int]]:
    return {"users": [k[0] for k in keys], "accounts": [k[1] for k in keys]}


_PARSED_LIMITS: dict[bytes, RiskLimits] = {}


def _risk_limits(stored: Any) -> RiskLimits:
    """A user's stored limits (the JSON column's value), parsed once per distinct value:
    the same few settings are read for every batch."""
    key = orjson.dumps(stored)
    found = _PARSED_LIMITS.get(key)
    if found is None:
        if len(_PARSED_LIMITS) >= 10_000:
            _PARSED_LIMITS.clear()
        found = _PARSED_LIMITS[key] = RiskLimits.model_validate(stored)
    return found

"""Deciding many orders in one transaction: accept, risk chain, paper placement, audit.

A batch holds intents from the stream and stored PENDING orders (the sweeper's)
of any number of accounts. One transaction:

1. locks every account of the batch, in id order (``SELECT ... FOR UPDATE``);
2. finds the orders stored already under the intents' keys (idempotency);
3. reads what the checks need of every account at once: fills above the last one
   each account model has seen, open orders, recent submission times, halts,
   limits;
4. decides every order in stream order, each account's orders seeing the ones
   decided before them in the batch as working orders; a paper order is placed in
   the book here. On PostgreSQL new orders take their ids from the sequence first
   (one query) and are inserted once, decided; on SQLite they are inserted PENDING
   (one statement) before deciding, for their ids;
5. inserts the new orders, stores every decision, passes included (one statement),
   stages the events in the outbox, and commits.

So a batch costs about ten round trips to the database however many orders it
holds, with every guarantee of deciding one order at a time: the decision is
committed before a broker elsewhere is called, a key is accepted once per user,
an account's orders are decided one after the other under its lock, and every
check's verdict is in the audit trail.

An intent refused for good (unknown account, malformed order, reused key) is
answered with its error and changes nothing; the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.accounting import RATE_WINDOW, AccountReader
from order_processor.domain.account import Account
from order_processor.domain.closing import closing_order, opposes
from order_processor.domain.orders import Order, validate_order
from order_processor.domain.risk import (
    Decision,
    RiskChain,
    RiskLimits,
    WorkingOrderView,
    WorkingTotals,
    build_chain,
)
from order_processor.records import (
    exit_tag,
    is_exit_intent,
    is_exit_row,
    loaded_values,
    request_hash,
    row_from_intent,
    side_of,
    to_domain,
    working_quantities,
)
from order_processor.repositories.batch import AccountKey, BatchQueries, OpenOrder
from order_processor.repositories.orders import OPEN_STATES
from order_processor.service import IdempotencyKeyReused, check_intent, currency_refusal
from shared.batch_sql import insert_rows, next_ids, pair_of
from shared.contracts import OrderIntent, OrderStatus
from shared.errors import DomainError, NotFound
from shared.models import BrokerAccount, RiskVerdict
from shared.models import Order as OrderRow

S = OrderStatus
OPEN = frozenset(OPEN_STATES)

SYSTEM_BYPASS = Decision(True, "system_order", "platform order (liquidation, square-off)", "bypass")


@dataclass
class AccountState:
    """What deciding an order reads of its account, kept up to date through the batch."""

    account: BrokerAccount
    model: Account
    open_orders: list[OpenOrder]
    recent: list[datetime]
    halts: list[int | None]
    limits: RiskLimits
    views: list[WorkingOrderView] = field(init=False)
    """What the risk view sees of ``open_orders``."""
    chain: RiskChain = field(init=False)
    """The user's risk chain, built once for the batch."""

    totals: WorkingTotals = field(init=False)
    """``views`` summed, kept up to date with them."""

    def __post_init__(self) -> None:
        self.views = [_view(o) for o in self.open_orders]
        self.totals = WorkingTotals(self.views)
        self.chain = build_chain(self.limits)

    def decided(self, row: OrderRow) -> None:
        """Count a decided order (sent, working) in what the account's next orders see."""
        v = loaded_values(row)  # its values at once (attribute reads cost a call each)
        if v["submitted_at"] is not None:
            self.recent.append(v["submitted_at"])
        if v["status"] in OPEN:
            held = OpenOrder(
                v["id"],
                v["symbol"],
                v["side"],
                v["product"],
                v["quantity"],
                v["filled_quantity"],
                v["limit_price"],
                v["trigger_price"],
            )
            self.open_orders.append(held)
            view = _view(held)
            self.views.append(view)
            self.totals.add(view)


def _view(o: OpenOrder) -> WorkingOrderView:
    price = o.limit_price if o.limit_price is not None else o.trigger_price
    return WorkingOrderView(o.symbol, side_of(o.side), o.quantity - o.filled_quantity, price)


@dataclass
class Batch:
    """What one transaction decided; filled in by ``decide``."""

    refused: dict[int, DomainError] = field(default_factory=dict)
    """Index of the intent -> why it was refused (nothing of it was stored)."""
    rows: list[OrderRow] = field(default_factory=list)
    """Every order decided here, in the order decided."""
    doubtful: list[tuple[int, int]] = field(default_factory=list)
    """(user_id, order_id) of replayed orders found SUBMITTED or UNKNOWN: reconcile them."""


async def read_states(
    session: AsyncSession,
    reader: AccountReader,
    accounts: Sequence[BrokerAccount],
    now: datetime,
) -> dict[int, AccountState]:
    """Every account's state for deciding its orders, in a handful of queries."""
    if not accounts:
        return {}
    queries = BatchQueries(session)
    keys = [(a.user_id, a.id) for a in accounts]
    users = {a.user_id for a in accounts}
    models = await reader.books.refresh_many(session, accounts)
    open_orders = await queries.open_orders(keys)
    recent = await queries.submit_times(keys, now - RATE_WINDOW)
    halts = await queries.halt_scopes(users)
    limits = await queries.limits(users)
    return {
        a.id: AccountState(
            account=a,
            model=models[a.id],
            open_orders=open_orders[a.id],
            recent=recent[a.id],
            halts=halts[a.user_id],
            limits=limits[a.user_id],
        )
        for a in accounts
    }


async def lock_and_find(
    session: AsyncSession,
    intents: Sequence[OrderIntent],
    pending: Sequence[tuple[int, int]],
) -> tuple[dict[int, BrokerAccount], dict[tuple[int, str], OrderRow], dict[int, OrderRow]]:
    """Lock the accounts of the intents and of the stored orders ``pending`` ((user_id,
    order_id)), then read the orders under the intents' keys and the pending orders."""
    queries = BatchQueries(session)
    heads: dict[int, AccountKey] = {}
    if pending:
        found = await session.execute(
            select(OrderRow.id, OrderRow.user_id, OrderRow.broker_account_id).where(
                pair_of(session, (OrderRow.user_id, OrderRow.id), pending)
            )
        )
        heads = {order_id: (user_id, account_id) for order_id, user_id, account_id in found.all()}
    keys = {(i.user_id, i.broker_account_id) for i in intents} | set(heads.values())
    accounts = await queries.lock_accounts(keys)
    stored = await queries.orders_by_key({(i.user_id, i.client_order_id) for i in intents})
    rows: dict[int, OrderRow] = {}
    if heads:
        # Read again under the lock: a row read before it may have moved on meanwhile.
        got = await session.scalars(
            select(OrderRow)
            .where(pair_of(session, (OrderRow.user_id, OrderRow.id), pending))
            .execution_options(populate_existing=True)
        )
        rows = {r.id: r for r in got.all()}
    return accounts, stored, rows


class Decider:
    """The risk chain and the paper placement for the orders of one batch."""

    def __init__(self, reader: AccountReader) -> None:
        self.reader = reader

    def accept(
        self,
        intents: Sequence[OrderIntent],
        accounts: dict[int, BrokerAccount],
        stored: dict[tuple[int, str], OrderRow],
        states: dict[int, AccountState],
        batch: Batch,
    ) -> list[OrderRow]:
        """The rows to decide for ``intents``: new PENDING rows (not yet added to the session)
        and stored PENDING ones; replays and refusals are noted in ``batch``."""
        rows: list[OrderRow] = []
        taken: set[int] = set()
        for index, intent in enumerate(intents):
            key = (intent.user_id, intent.client_order_id)
            digest = request_hash(intent)
            row = stored.get(key)
            if row is not None:
                if row.request_hash != digest:
                    batch.refused[index] = IdempotencyKeyReused(
                        f"client_order_id {row.client_order_id!r} was used for a different order",
                        details=[
                            {
                                "field": "client_order_id",
                                "message": "already used with another body",
                            }
                        ],
                    )
                elif row.status == S.PENDING and id(row) not in taken:
                    taken.add(id(row))
                    rows.append(row)
                elif row.status in (S.SUBMITTED, S.UNKNOWN) and row.id is not None:
                    batch.doubtful.append((row.user_id, row.id))
                continue
            account = accounts.get(intent.broker_account_id)
            if account is None or account.user_id != intent.user_id:
                batch.refused[index] = NotFound("broker account not found")
                continue
            try:
                check_intent(self.reader.catalog, account, intent)
            except DomainError as exc:
                batch.refused[index] = exc
                continue
            closing = None
            if is_exit_intent(intent):
                state = states[account.id]
                held = state.model.positions.get(intent.symbol, intent.product).quantity
                mine = working_quantities(state.open_orders, intent.symbol, intent.product)
                closing = closing_order(held, mine, intent.quantity)
            row = row_from_intent(intent, digest, closing)
            stored[key] = row  # a second copy of the intent in this batch is a replay
            taken.add(id(row))
            rows.append(row)
        return rows

    async def evaluate(
        self, row: OrderRow, state: AccountState, now: datetime
    ) -> tuple[Order, tuple[Decision, ...]]:
        """The decision on a PENDING order: DENIED (with why) or SUBMITTED, and the checks'
        verdicts to record (none when it was refused before the chain ran)."""
        account = state.account
        order = to_domain(row)
        if not account.is_active and order.origin != "system":
            return order.with_status(
                S.DENIED, now, reason_code="account_inactive", reason="the account is not active"
            ), ()
        refusal = currency_refusal(
            self.reader.catalog,
            account,
            order.symbol,
            origin=order.origin,
            closing=is_exit_row(row),
        )
        if refusal is not None:  # accept refuses these; a row stored before that still lands here
            return order.with_status(
                S.DENIED, now, reason_code="currency_mismatch", reason=refusal
            ), ()
        sized = self._size_exit(row, order, state)
        if sized is None:
            return order.with_status(
                S.DENIED, now, reason_code="nothing_to_exit", reason="no position to exit"
            ), ()
        order = sized
        errors = validate_order(order, self.reader.catalog.instrument(order.symbol))
        if errors:
            return order.with_status(
                S.DENIED, now, reason_code=errors[0].code, reason=errors[0].message
            ), ()
        if order.origin == "system":
            decisions: tuple[Decision, ...] = (SYSTEM_BYPASS,)
        else:
            view = await self.reader.view_of(
                state.model,
                order,
                now,
                tuple(state.views),
                state.recent,
                state.halts,
                state.totals,
            )
            decisions = state.chain.evaluate(order, view).decisions
        denial = next((d for d in decisions if not d.approved), None)
        if denial is not None:
            decided = order.with_status(
                S.DENIED, now, reason_code=denial.code, reason=denial.message
            )
            return decided, decisions
        return order.with_status(S.SUBMITTED, now), decisions

    def _size_exit(self, row: OrderRow, order: Order, state: AccountState) -> Order | None:
        """An exit as its closing order, sized now under the lock; None: nothing to close.

        The stored quantity of an exit is the most it may close. A strategy's entry
        against the open position is an exit too: a strategy that bought and now
        signals SELL closes the long (sized from the position, not by its sizing
        rule, which would leave a remainder or take it through zero); it opens a
        short only from flat. Every other order comes back unchanged.
        """
        if not is_exit_row(row) and order.origin != "subscription":
            return order
        held = state.model.positions.get(order.symbol, order.product).quantity
        limit: Decimal | None = row.quantity
        if not is_exit_row(row):
            if not opposes(held, order.side):
                return order
            limit = None
            row.algo_tag = exit_tag(row.algo_tag, row.origin)
        others = [o for o in state.open_orders if o.id != order.order_id]
        closing = closing_order(
            held, working_quantities(others, order.symbol, order.product), limit
        )
        if closing is None:
            return None
        return replace(order, side=closing.side, quantity=closing.quantity, algo_tag=row.algo_tag)


async def assign_ids(session: AsyncSession, rows: Sequence[OrderRow]) -> None:
    """Give new order rows their ids (``next_ids``: one round trip on PostgreSQL).

    With its id known, a row can be decided (placed, announced) before it is stored, and is
    then inserted once in its decided state instead of inserted PENDING and updated.
    """
    for row, order_id in zip(rows, await next_ids(session, "orders", len(rows)), strict=True):
        row.id = order_id


_CHECKS: dict[tuple[int, ...], tuple[tuple[Decision, ...], list[list[Any]]]] = {}
"""The stored form of a set of decisions, by the decisions' identities: most orders pass
every check, and a check's plain pass is one shared value, so most orders of a batch share
one list (written once per statement). The decisions are kept with it, so their ids stay
theirs."""


def _checks(decisions: tuple[Decision, ...]) -> list[list[Any]]:
    """The decisions as stored in a verdict's ``checks`` (not to be changed: shared)."""
    key = tuple(map(id, decisions))
    found = _CHECKS.get(key)
    if found is not None:
        return found[1]
    checks = [[d.check, d.approved, d.code, d.message] for d in decisions]
    if len(_CHECKS) >= 1_000:
        _CHECKS.clear()
    _CHECKS[key] = (decisions, checks)
    return checks


async def record_decisions(
    session: AsyncSession, verdicts: Sequence[tuple[OrderRow, tuple[Decision, ...], datetime]]
) -> None:
    """Every check's verdict on every order of the batch: one row per order, the checks'
    verdicts in it (one multi-row insert)."""
    values: list[dict[str, Any]] = [
        {
            "user_id": row.user_id,
            "order_id": row.id,
            "approved": all(d.approved for d in decisions),
            "checks": _checks(decisions),
            "ts": ts,
        }
        for row, decisions, ts in verdicts
        if decisions
    ]
    # A plain executemany of the table (through the driver on asyncpg), not the ORM's bulk path.
    await insert_rows(session, cast(Table, RiskVerdict.__table__), values)

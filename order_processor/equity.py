"""Each account's stored fills, replayed in id order into its account model.

Every number (positions, cash, charges, equity and its history) comes from
``order_processor.domain.account.Account``; this module only feeds it the
account's fill rows and keeps the models of many accounts.

Trackers are kept per process and brought up to date incrementally (fills with
an id above the last one seen); fills of one account are inserted under the
account lock, so their ids grow in commit order and none is skipped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.domain.account import Account
from order_processor.domain.fills import Fill
from order_processor.domain.positions import PositionBook
from order_processor.records import product_of, side_of
from order_processor.repositories.batch import BatchQueries
from order_processor.repositories.book import FillTerms
from shared.contracts import Product, Side
from shared.models import BrokerAccount


class EquityTracker(Account):
    """One account's model fed from its stored fill rows; remembers the last fill id read.

    It adds no accounting of its own: every number comes from ``Account``.
    """

    def __init__(self, starting_capital: Decimal) -> None:
        super().__init__(starting_capital)
        self.last_fill_id = 0

    @property
    def book(self) -> PositionBook:
        """The account's positions."""
        return self.positions

    def apply(
        self,
        fill_id: int,
        *,
        symbol: str,
        side: Side,
        product: Product,
        quantity: Decimal,
        price: Decimal,
        charges: Decimal,
        ts: datetime,
    ) -> None:
        """Book one stored fill; fills at or below the last id seen are ignored."""
        if fill_id <= self.last_fill_id:
            return
        fill = Fill(
            user_id=0,
            client_order_id="",
            seq=fill_id,
            symbol=symbol,
            side=side,
            product=product,
            quantity=quantity,
            price=price,
            ts=ts,
        )
        self.book_fill(fill, charges)
        self.last_fill_id = fill_id


class EquityBooks:
    """Trackers of many accounts, at most ``max_accounts`` kept (least recently used dropped).

    A tracker is keyed by the account's id *and* its row's ``created_at``: should
    an id ever be handed out again (SQLite before AUTOINCREMENT), the new row is a
    different key and never inherits the old account's cash and positions.
    """

    def __init__(self, max_accounts: int = 10_000) -> None:
        self.max_accounts = max_accounts
        self._trackers: OrderedDict[tuple[int, datetime], EquityTracker] = OrderedDict()
        self._created: dict[int, datetime] = {}  # account id -> the created_at held for it

    async def refresh(self, session: AsyncSession, account: BrokerAccount) -> EquityTracker:
        """The account's tracker with every committed fill booked."""
        return (await self.refresh_many(session, [account]))[account.id]

    async def refresh_many(
        self, session: AsyncSession, accounts: Iterable[BrokerAccount]
    ) -> dict[int, EquityTracker]:
        """The trackers of several accounts with every committed fill booked (one query)."""
        owners = {a.id: a for a in accounts}
        trackers = {a.id: self._tracker_for(a) for a in owners.values()}
        last_ids = {(a.user_id, a.id): trackers[a.id].last_fill_id for a in owners.values()}
        for fill in await BatchQueries(session).fills_after(last_ids):
            _book(trackers[fill.broker_account_id], fill)
        return trackers

    def _tracker_for(self, account: BrokerAccount) -> EquityTracker:
        key = (account.id, account.created_at)
        tracker = self._trackers.get(key)
        if tracker is None or tracker.starting_capital != account.starting_capital:
            self.evict(account.id)  # an older row's tracker under this id, if any
            tracker = EquityTracker(account.starting_capital)
            self._trackers[key] = tracker
            self._created[account.id] = account.created_at
            while len(self._trackers) > self.max_accounts:
                (dropped, _), _ = self._trackers.popitem(last=False)
                del self._created[dropped]
        else:
            self._trackers.move_to_end(key)
        return tracker

    def __contains__(self, account_id: object) -> bool:
        """Whether a tracker of ``account_id`` is held."""
        return account_id in self._created

    def evict(self, account_id: int) -> None:
        """Forget the account's tracker (the account was closed or deleted)."""
        created = self._created.pop(account_id, None)
        if created is not None:
            del self._trackers[account_id, created]


def _book(tracker: EquityTracker, fill: FillTerms) -> None:
    tracker.apply(
        fill.id,
        symbol=fill.symbol,
        side=side_of(fill.side),
        product=product_of(fill.product),
        quantity=fill.quantity,
        price=fill.price,
        charges=fill.charges,
        ts=fill.ts,
    )

"""A user's broker accounts as the order processor needs them: existence, state and the lock."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from shared.errors import NotFound
from shared.models import BrokerAccount
from shared.repository import UserScopedRepository

_LOCK = (
    select(BrokerAccount)
    .where(
        BrokerAccount.user_id == bindparam("user_id"),
        BrokerAccount.id == bindparam("account_id"),
    )
    .with_for_update()
    .execution_options(populate_existing=True)
)
"""One account of a user, locked (built once: it is taken for every decision and booking)."""


class AccountRepository(UserScopedRepository[BrokerAccount]):
    model = BrokerAccount
    not_found_message = "broker account not found"

    async def lock(self, account_id: int) -> BrokerAccount:
        """The account row, locked until the transaction ends (404 if not the user's).

        This is the per-account lock every order decision and booking takes first:
        ``SELECT ... FOR UPDATE`` is transaction-scoped, so it works behind PgBouncer
        in transaction pooling mode. SQLite ignores it; there every writing
        transaction holds the database's write lock already.
        """
        params = {"user_id": self.user_id, "account_id": account_id}
        account = await self.session.scalar(_LOCK, params)
        if account is None:
            raise NotFound(self.not_found_message)
        return account

    async def lock_all(self) -> list[BrokerAccount]:
        """Every account of the user, locked in id order (so two lockers never deadlock)."""
        stmt = self._scoped().order_by(BrokerAccount.id).with_for_update()
        return list((await self.session.scalars(stmt)).all())

"""A user's broker accounts as the order processor needs them: existence, state and the lock."""

from __future__ import annotations

from shared.errors import NotFound
from shared.models import BrokerAccount
from shared.repository import UserScopedRepository


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
        stmt = (
            self._scoped()
            .where(BrokerAccount.id == account_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        account = await self.session.scalar(stmt)
        if account is None:
            raise NotFound(self.not_found_message)
        return account  # type: ignore[no-any-return]

    async def lock_all(self) -> list[BrokerAccount]:
        """Every account of the user, locked in id order (so two lockers never deadlock)."""
        stmt = self._scoped().order_by(BrokerAccount.id).with_for_update()
        return list((await self.session.scalars(stmt)).all())

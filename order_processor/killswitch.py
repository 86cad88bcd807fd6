"""The kill switch: halt one user or everyone, resume, liquidate, and report the state.

A halt is a ``TradingHalt`` row, so it holds while Redis is down: the risk
chain reads halts from the database under the account lock. Halting locks the
affected accounts (in id order) before it cancels their sent, unfinished
orders (they move to PENDING_CANCEL and the order processor cancels them at
the broker), so no order decided before the halt can slip past the cancel. Orders
that were PENDING are checked again by the chain, which now sees the halt and
lets through only risk-reducing orders. Every action is audited and announced
with a ``ControlEvent`` once committed.

Users may halt themselves (the panic button) and lift their own halt, but not
an administrator's halt of them, nor the global one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from order_processor.catalog import TradingCatalog
from order_processor.events import Outbox
from order_processor.repositories.accounts import AccountRepository
from order_processor.repositories.book import PositionRepository
from order_processor.repositories.control import HaltRepository
from order_processor.repositories.system import SystemQueries
from order_processor.service import NothingToClose, OrderService
from shared.contracts import CHANNEL_CONTROL, ControlEvent, OrderCommand, OrderIntent, Product
from shared.errors import Forbidden
from shared.models import AuditEntry, Order, TradingHalt

LIQUIDATION_TAG = "liquidation"
HALT_CANCEL_REASON = "trading_halted"


@dataclass
class KillSwitchResult:
    """What an action did: the halts it touched, orders asked to cancel, orders placed, and
    what to ``submit`` to the order stream once committed (intents of new orders, commands)."""

    halts: list[TradingHalt] = field(default_factory=list)
    cancelled: list[Order] = field(default_factory=list)
    placed: list[Order] = field(default_factory=list)
    intents: list[OrderIntent | OrderCommand] = field(default_factory=list)


class KillSwitch:
    """Halts, resumes and liquidations, acted by ``actor_id`` (an admin or the user themself;
    None: the platform itself)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        actor_id: int | None,
        now: datetime,
        catalog: TradingCatalog,
        outbox: Outbox | None = None,
        ip_address: str | None = None,
    ) -> None:
        self.session = session
        self.actor_id = actor_id
        self.now = now
        self.catalog = catalog
        self.outbox = outbox if outbox is not None else Outbox()
        self.ip_address = ip_address
        self.halts = HaltRepository(session)

    # -- halt ----------------------------------------------------------------

    async def halt(self, user_id: int | None, reason: str) -> KillSwitchResult:
        """Halt ``user_id`` (None: everyone) and cancel the affected users' open orders."""
        users = await self._lock_accounts(user_id)
        result = KillSwitchResult()
        existing = [h for h in await self.halts.active(user_id) if h.created_by == self.actor_id]
        halt = existing[0] if existing else self.halts.add(user_id, reason, self.actor_id, self.now)
        await self.session.flush()
        result.halts.append(halt)
        for uid in users:
            rows, commands = await self._service(uid).cancel_open(reason=HALT_CANCEL_REASON)
            result.cancelled += rows
            result.intents += commands
        self._audit(
            "trading.halt",
            user_id,
            reason=reason,
            halt_id=halt.id,
            cancelled=[o.id for o in result.cancelled],
        )
        self._announce("halt", user_id, reason)
        return result

    async def resume(self, user_id: int | None, *, as_admin: bool) -> KillSwitchResult:
        """Lift halts of one scope. A user lifts only halts they set themselves (else 403)."""
        active = await self.halts.active(user_id, for_update=True)
        if not as_admin:
            if user_id != self.actor_id:
                raise Forbidden("you can only resume your own trading", code="not_your_halt")
            if any(h.created_by != self.actor_id for h in active):
                raise Forbidden(
                    "an administrator halted your trading; only an administrator can resume it",
                    code="halted_by_admin",
                )
        for halt in active:
            halt.cleared_at = self.now
            halt.cleared_by = self.actor_id
        await self.session.flush()
        self._audit("trading.resume", user_id, cleared=[h.id for h in active])
        self._announce("resume", user_id, "")
        return KillSwitchResult(halts=active)

    # -- liquidate -----------------------------------------------------------

    async def liquidate(self, user_id: int | None) -> KillSwitchResult:
        """Market orders (origin ``system``) closing every open position of one user or all."""
        users = [user_id] if user_id is not None else await self._users_with_positions()
        result = KillSwitchResult()
        stamp = int(self.now.timestamp() * 1000)
        for uid in users:
            await AccountRepository(self.session, uid).lock_all()
            await self._close_positions(uid, stamp, result)
        self._audit("trading.liquidate", user_id, orders=[o.id for o in result.placed])
        self._announce("liquidate", user_id, "")
        return result

    async def _close_positions(self, user_id: int, stamp: int, result: KillSwitchResult) -> None:
        """A typed exit for every open position: sized like any exit, again when decided."""
        service = self._service(user_id)
        for p in await PositionRepository(self.session, user_id).open_positions():
            if p.symbol not in self.catalog:
                continue
            try:
                row, intent, created = await service.close_position(
                    p.broker_account_id,
                    p.symbol,
                    Product(p.product),
                    client_order_id=f"liq-{p.id}-{stamp}",
                    origin="system",
                    algo_tag=LIQUIDATION_TAG,
                )
            except NothingToClose:
                continue  # exits already working close it
            result.placed.append(row)
            if created:
                result.intents.append(intent)

    # -- state ---------------------------------------------------------------

    async def status(self) -> list[TradingHalt]:
        return list(await self.halts.all_active())

    # -- helpers -------------------------------------------------------------

    async def _lock_accounts(self, user_id: int | None) -> list[int]:
        if user_id is None:
            locked = await SystemQueries(self.session).lock_all_accounts()
            return sorted({u for u, _ in locked})
        await AccountRepository(self.session, user_id).lock_all()
        return [user_id]

    async def _users_with_positions(self) -> list[int]:
        return await SystemQueries(self.session).users_with_open_positions()

    def _service(self, user_id: int) -> OrderService:
        return OrderService(
            self.session, user_id, now=self.now, catalog=self.catalog, outbox=self.outbox
        )

    def _audit(self, action: str, user_id: int | None, **details: Any) -> None:
        self.session.add(
            AuditEntry(
                ts=self.now,
                actor_id=self.actor_id,
                action=action,
                target_type="user" if user_id is not None else "platform",
                target_id=str(user_id) if user_id is not None else None,
                ip_address=self.ip_address,
                details=details,
            )
        )

    def _announce(
        self, action: Literal["halt", "resume", "liquidate"], user_id: int | None, reason: str
    ) -> None:
        self.outbox.add(
            CHANNEL_CONTROL,
            ControlEvent(action=action, user_id=user_id, reason=reason[:300], ts=self.now),
        )

"""EXIT signals into concrete closing orders, from the position they close."""

from __future__ import annotations

from decimal import Decimal

from shared.contracts import OrderIntent, Side
from strategy_workers.evaluation import EXIT_TAG_PREFIX


def is_unresolved_exit(intent: OrderIntent) -> bool:
    """An evaluator EXIT intent: ``exit:`` tag and no quantity yet."""
    return (intent.algo_tag or "").startswith(EXIT_TAG_PREFIX) and intent.quantity == 0


def resolve_exit(intent: OrderIntent, position: Decimal) -> OrderIntent | None:
    """The order that flattens ``position``: SELL a long, BUY back a short, nothing when flat.

    The ``exit:`` tag stays, so the order processor (and the trader) can tell a
    strategy's exit from an entry; a nonzero quantity means it is resolved.
    """
    if position == 0:
        return None
    side = Side.SELL if position > 0 else Side.BUY
    return intent.model_copy(update={"side": side, "quantity": abs(position)})

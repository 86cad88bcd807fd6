"""The order state machine: the only moves an order's status may make.

::

    PENDING -> DENIED                    (our risk chain said no; terminal)
    PENDING -> SUBMITTED                 (sent to the broker)
    SUBMITTED -> OPEN | PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED | REJECTED | UNKNOWN
    OPEN -> PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED
    PARTIALLY_FILLED -> PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED
    UNKNOWN -> OPEN | PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED | REJECTED
    OPEN | PARTIALLY_FILLED -> PENDING_UPDATE    (a change was accepted)
    SUBMITTED | UNKNOWN | OPEN | PARTIALLY_FILLED | PENDING_UPDATE -> PENDING_CANCEL
    PENDING_UPDATE -> OPEN | PARTIALLY_FILLED    (the change applied, or refused)
    PENDING_CANCEL -> OPEN | PARTIALLY_FILLED    (the broker refused the cancel)
    PENDING_CANCEL | PENDING_UPDATE -> itself | FILLED | CANCELLED | EXPIRED | REJECTED

A broker may report a fill or an expiry before it ever reports the order open
(a market or IOC order), so SUBMITTED may skip OPEN. UNKNOWN means the broker
call was sent but its outcome is not known: it is reconciled into a real state
by client order id and never moves back to SUBMITTED (no blind resend).

PENDING_CANCEL and PENDING_UPDATE are requests under way: the order still rests
at the broker and may fill meanwhile (a partial fill keeps the pending state, a
full fill ends it as FILLED). The order processor that owns the account carries
the request out and moves the order on.
"""

from __future__ import annotations

from types import MappingProxyType

from shared.contracts import OrderStatus
from shared.errors import Conflict

S = OrderStatus

TERMINAL_STATES: frozenset[OrderStatus] = frozenset(
    {S.DENIED, S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED}
)
"""States an order never leaves."""

PENDING_CHANGE_STATES: frozenset[OrderStatus] = frozenset({S.PENDING_CANCEL, S.PENDING_UPDATE})
"""A cancel or a change is under way: the order still rests at the broker."""

MODIFIABLE_STATES: frozenset[OrderStatus] = frozenset({S.OPEN, S.PARTIALLY_FILLED})
"""States from which a change may be asked for (one change at a time)."""

WORKING_STATES: frozenset[OrderStatus] = MODIFIABLE_STATES | PENDING_CHANGE_STATES
"""States in which an order rests at the broker and may still fill."""

CANCELLABLE_STATES: frozenset[OrderStatus] = frozenset(
    {S.SUBMITTED, S.UNKNOWN, S.OPEN, S.PARTIALLY_FILLED, S.PENDING_UPDATE}
)
"""States from which a cancel may be asked for (PENDING is still being decided)."""

IN_FLIGHT_STATES: frozenset[OrderStatus] = frozenset({S.PENDING, S.SUBMITTED, S.UNKNOWN})
"""Not terminal and not yet confirmed working: the order may still become exposure."""

_BROKER_OUTCOMES = frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED})
_ENDS = frozenset({S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED})

ALLOWED_TRANSITIONS: MappingProxyType[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        S.PENDING: frozenset({S.DENIED, S.SUBMITTED}),
        S.SUBMITTED: _BROKER_OUTCOMES | {S.REJECTED, S.UNKNOWN, S.PENDING_CANCEL},
        S.OPEN: frozenset(
            {
                S.PARTIALLY_FILLED,
                S.FILLED,
                S.CANCELLED,
                S.EXPIRED,
                S.PENDING_CANCEL,
                S.PENDING_UPDATE,
            }
        ),
        # Repeated partial fills are moves too, so PARTIALLY_FILLED may follow itself.
        S.PARTIALLY_FILLED: frozenset(
            {
                S.PARTIALLY_FILLED,
                S.FILLED,
                S.CANCELLED,
                S.EXPIRED,
                S.PENDING_CANCEL,
                S.PENDING_UPDATE,
            }
        ),
        S.UNKNOWN: _BROKER_OUTCOMES | {S.REJECTED, S.PENDING_CANCEL},
        S.PENDING_CANCEL: _ENDS | {S.PENDING_CANCEL, S.OPEN, S.PARTIALLY_FILLED},
        S.PENDING_UPDATE: _ENDS | {S.PENDING_UPDATE, S.PENDING_CANCEL, S.OPEN, S.PARTIALLY_FILLED},
        S.DENIED: frozenset(),
        S.FILLED: frozenset(),
        S.CANCELLED: frozenset(),
        S.EXPIRED: frozenset(),
        S.REJECTED: frozenset(),
    }
)
"""For each status, the statuses it may move to."""


class IllegalTransition(Conflict):
    """An order was asked to move between two states the state machine does not connect."""

    code = "illegal_transition"

    def __init__(self, current: OrderStatus, new: OrderStatus) -> None:
        super().__init__(f"an order cannot move from {current} to {new}")
        self.current = current
        self.new = new


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """Whether ``current -> new`` is an allowed move."""
    return new in ALLOWED_TRANSITIONS[current]


def transition(current: OrderStatus, new: OrderStatus) -> OrderStatus:
    """Return ``new`` if the move is allowed, else raise ``IllegalTransition``."""
    if new not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(current, new)
    return new


def is_terminal(status: OrderStatus) -> bool:
    """Whether an order in ``status`` is finished for good."""
    return status in TERMINAL_STATES

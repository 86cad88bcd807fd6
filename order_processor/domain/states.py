"""The order state machine: the only moves an order's status may make.

::

    PENDING -> DENIED                    (our risk chain said no; terminal)
    PENDING -> SUBMITTED                 (sent to the broker)
    SUBMITTED -> OPEN | PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED | REJECTED | UNKNOWN
    OPEN -> PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED
    PARTIALLY_FILLED -> PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED
    UNKNOWN -> OPEN | PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED | REJECTED

A broker may report a fill or an expiry before it ever reports the order open
(a market or IOC order), so SUBMITTED may skip OPEN. UNKNOWN means the broker
call was sent but its outcome is not known: it is reconciled into a real state
by client order id and never moves back to SUBMITTED (no blind resend).
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

WORKING_STATES: frozenset[OrderStatus] = frozenset({S.OPEN, S.PARTIALLY_FILLED})
"""States in which an order rests at the broker and may still fill."""

IN_FLIGHT_STATES: frozenset[OrderStatus] = frozenset({S.PENDING, S.SUBMITTED, S.UNKNOWN})
"""Not terminal and not yet confirmed working: the order may still become exposure."""

_BROKER_OUTCOMES = frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED})

ALLOWED_TRANSITIONS: MappingProxyType[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        S.PENDING: frozenset({S.DENIED, S.SUBMITTED}),
        S.SUBMITTED: _BROKER_OUTCOMES | {S.REJECTED, S.UNKNOWN},
        S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
        # Repeated partial fills are moves too, so PARTIALLY_FILLED may follow itself.
        S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
        S.UNKNOWN: _BROKER_OUTCOMES | {S.REJECTED},
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

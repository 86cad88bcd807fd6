import itertools

import pytest

from order_processor.domain.states import (
    TERMINAL_STATES,
    IllegalTransition,
    can_transition,
    is_terminal,
    transition,
)
from shared.contracts import OrderStatus as S

# Written out by hand from the lifecycle in docs/orders.md, independently of the module's table.
LEGAL = {
    (S.PENDING, S.DENIED),
    (S.PENDING, S.SUBMITTED),
    *(
        (S.SUBMITTED, s)
        for s in (
            S.OPEN,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELLED,
            S.EXPIRED,
            S.REJECTED,
            S.UNKNOWN,
        )
    ),
    *((S.OPEN, s) for s in (S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED)),
    *((S.PARTIALLY_FILLED, s) for s in (S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED)),
    *(
        (S.UNKNOWN, s)
        for s in (S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED)
    ),
    # Requests under way: asked from a sent order, ended by the broker's answer or a fill.
    *((s, S.PENDING_UPDATE) for s in (S.OPEN, S.PARTIALLY_FILLED)),
    *(
        (s, S.PENDING_CANCEL)
        for s in (S.SUBMITTED, S.UNKNOWN, S.OPEN, S.PARTIALLY_FILLED, S.PENDING_UPDATE)
    ),
    *(
        (pending, s)
        for pending in (S.PENDING_CANCEL, S.PENDING_UPDATE)
        for s in (
            pending,
            S.OPEN,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELLED,
            S.EXPIRED,
            S.REJECTED,
        )
    ),
}
ALL_PAIRS = list(itertools.product(S, S))


@pytest.mark.parametrize(("current", "new"), [p for p in ALL_PAIRS if p in LEGAL])
def test_legal_transition_returns_the_new_state(current, new):
    assert transition(current, new) is new


@pytest.mark.parametrize(("current", "new"), [p for p in ALL_PAIRS if p not in LEGAL])
def test_illegal_transition_raises(current, new):
    with pytest.raises(IllegalTransition) as info:
        transition(current, new)

    assert (info.value.current, info.value.new) == (current, new)
    assert info.value.code == "illegal_transition"


@pytest.mark.parametrize(("current", "new"), ALL_PAIRS)
def test_can_transition_agrees_with_transition(current, new):
    assert can_transition(current, new) == ((current, new) in LEGAL)


def test_terminal_states_are_exactly_those_without_exits():
    without_exits = {s for s in S if not any((s, t) in LEGAL for t in S)}

    assert without_exits == set(TERMINAL_STATES)
    assert all(is_terminal(s) for s in without_exits)


def test_unknown_is_never_resubmitted():
    assert not can_transition(S.UNKNOWN, S.SUBMITTED)
    assert not can_transition(S.UNKNOWN, S.PENDING)

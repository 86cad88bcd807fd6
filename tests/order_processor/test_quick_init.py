"""``quick_init``: the same instances as a frozen dataclass's own ``__init__``, quicker."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import FrozenInstanceError, InitVar, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_processor.domain.account import Settlement
from order_processor.domain.charges import ChargeBreakdown
from order_processor.domain.fills import Fill
from order_processor.domain.ledger import LedgerEntry
from order_processor.domain.orders import Order
from order_processor.domain.paper.events import OrderAccepted, OrderFilled
from order_processor.domain.positions import Position
from order_processor.domain.quick import quick_init
from order_processor.domain.risk.base import AccountView, PositionView, WorkingOrderView
from shared.contracts import Side

QUICK = [
    Order,
    AccountView,
    PositionView,
    WorkingOrderView,
    Fill,
    LedgerEntry,
    Position,
    Settlement,
    ChargeBreakdown,
    OrderAccepted,
    OrderFilled,
]


def _twin(quick: bool) -> type:
    """A class with every kind of field ``quick_init`` takes, with or without it."""

    @dataclass(frozen=True, slots=True)
    class Twin:
        a: int
        b: str = "b"
        c: list[int] = field(default_factory=list)
        d: int | None = None

        def __post_init__(self) -> None:
            if self.d is None:
                object.__setattr__(self, "d", self.a * 2)

    return quick_init(Twin) if quick else Twin


PLAIN, QUICKER = _twin(False), _twin(True)


@given(
    st.integers(),
    st.none() | st.text(),
    st.none() | st.lists(st.integers()),
    st.none() | st.integers(),
)
def test_an_instance_is_the_one_the_dataclass_makes(a, b, c, d):
    given_ = {"a": a, **({"b": b} if b is not None else {}), **({"c": c} if c is not None else {})}
    if d is not None:
        given_["d"] = d
    plain, quick = PLAIN(**given_), QUICKER(**given_)
    assert dataclasses.astuple(plain) == dataclasses.astuple(quick)
    assert repr(plain).replace("Twin", "") == repr(quick).replace("Twin", "")
    assert PLAIN(a, *([] if b is None else [b])).b == QUICKER(a, *([] if b is None else [b])).b


def test_a_default_factory_makes_a_new_value_for_each_instance():
    first, second = QUICKER(1), QUICKER(2)
    assert first.c == [] and first.c is not second.c
    assert first.d == 2  # __post_init__ ran


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_order_path_classes_keep_their_signature_and_stay_frozen(cls):
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(inspect.signature(cls.__init__).parameters)[1:] == names
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    assert all(f"_set_{n}" in cls.__init__.__code__.co_names for n in names)  # the quick one


def test_an_order_gets_its_fields_and_defaults_and_stays_frozen():
    ts = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    order = Order(
        user_id=1,
        broker_account_id=2,
        client_order_id="k",
        symbol="INFY",
        side=Side.BUY,
        quantity=Decimal(3),
        created_at=ts,
    )
    for f in dataclasses.fields(Order):
        if f.default is not dataclasses.MISSING:
            assert getattr(order, f.name) == f.default, f.name
    assert (order.user_id, order.quantity, order.created_at) == (1, Decimal(3), ts)
    assert order == dataclasses.replace(order) and hash(order) == hash(dataclasses.replace(order))
    with pytest.raises(FrozenInstanceError):
        order.status = order.status  # type: ignore[misc]
    with pytest.raises(TypeError):
        Order(user_id=1)  # type: ignore[call-arg]


def test_an_account_view_still_sums_its_working_orders():
    working = (WorkingOrderView("INFY", Side.BUY, Decimal(2), Decimal(10)),)
    view = AccountView(
        now=datetime(2026, 1, 5, tzinfo=UTC),
        equity=Decimal(100),
        cash=Decimal(100),
        start_of_day_equity=Decimal(100),
        start_of_week_equity=Decimal(100),
        peak_equity=Decimal(100),
        instrument=None,  # type: ignore[arg-type]
        calendar=None,  # type: ignore[arg-type]
        working_orders=working,
    )
    assert view.totals is not None and view.positions == {}


def test_classes_it_cannot_speed_up_are_refused():
    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        scale: InitVar[int] = 1

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    for cls in (WithInitVar, NoSlots):
        with pytest.raises(TypeError):
            quick_init(cls)

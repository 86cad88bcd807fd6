"""Bus codec: every message kind round-trips exactly; bad payloads fail with clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.bus.codec import (
    InvalidMessage,
    MessageDecodeError,
    UnknownMessage,
    decode,
    encode,
)
from shared.contracts import (
    AccountEvent,
    FillEvent,
    OrderEvent,
    OrderIntent,
    OrderStatus,
    OrderType,
    PositionEvent,
    Product,
    Side,
    TickMsg,
    Validity,
)
from tests.shared.test_bus import sample_messages


@pytest.mark.parametrize("message", sample_messages(), ids=lambda m: m.kind)
def test_every_message_kind_decodes_to_an_equal_message_of_its_class(message):
    decoded = decode(encode(message))
    assert type(decoded) is type(message)
    assert decoded == message


def fill(price: Decimal) -> FillEvent:
    return FillEvent(
        user_id=1,
        order_id=1,
        fill_id=1,
        symbol="X",
        side=Side.BUY,
        quantity=Decimal("1"),
        price=price,
        charges=Decimal("0.00"),
        ts=datetime(2024, 1, 1, tzinfo=UTC),
    )


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_event_amounts_keep_their_exact_value(price):
    decoded = decode(encode(fill(price)))
    assert isinstance(decoded, FillEvent)
    assert decoded.price == price


def test_event_amounts_travel_as_plain_json_strings_whatever_the_stored_scale():
    # PostgreSQL returns numeric(28, 8) with its scale; clients see what REST shows.
    payload = orjson.loads(encode(fill(Decimal("1523.05000000"))))
    assert payload["price"] == "1523.05"
    assert orjson.loads(encode(fill(Decimal("1E+5"))))["price"] == "100000"


def test_datetimes_stay_timezone_aware_at_the_same_instant():
    message = sample_messages()[0]
    decoded = decode(encode(message))
    assert decoded.ts.utcoffset() is not None  # type: ignore[attr-defined]
    assert decoded.ts == message.ts  # type: ignore[attr-defined]


def test_unknown_kind_raises_unknown_message_naming_the_kind():
    with pytest.raises(UnknownMessage, match="'from_the_future'") as info:
        decode(b'{"v": 3, "kind": "from_the_future", "x": 1}')
    assert info.value.kind == "from_the_future"
    assert isinstance(info.value, MessageDecodeError)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"symbol": "INFY"}',
        b'{"kind": "tick", "symbol": "INFY"}',
        b'{"kind": "tick", "symbol": "INFY", "ts": "2024-01-01T00:00:00Z", "price": 1, "x": 2}',
        b"[1, 2]",
    ],
    ids=["not-json", "no-kind", "missing-fields", "unknown-field", "not-an-object"],
)
def test_malformed_payload_raises_invalid_message(payload):
    with pytest.raises(InvalidMessage):
        decode(payload)


def test_decode_accepts_text_as_well_as_bytes():
    message = sample_messages()[3]
    assert decode(encode(message).decode()) == message


@pytest.mark.parametrize("message", sample_messages(), ids=lambda m: m.kind)
def test_every_message_encodes_to_the_json_pydantic_writes(message):
    assert orjson.loads(encode(message)) == orjson.loads(message.model_dump_json())


@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])),
)
def test_plain_messages_round_trip_any_float_and_aware_datetime(price, ts):
    message = TickMsg(symbol="INFY", ts=ts, price=price, qty=price)

    assert decode(encode(message)) == message
    assert orjson.loads(encode(message)) == orjson.loads(message.model_dump_json())


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (Decimal("0E-8"), "0"),
        (Decimal("-0E-8"), "0"),
        (Decimal("-0.00"), "0"),
        (Decimal("0") * Decimal("-1"), "0"),
        (Decimal("999904.9606200000000000"), "999904.96062"),
        (Decimal("-12.50000000"), "-12.5"),
    ],
)
def test_position_and_account_amounts_read_plainly_with_no_negative_zero(stored, shown):
    position = PositionEvent(
        user_id=1,
        broker_account_id=1,
        symbol="INFY",
        quantity=stored,
        average_price=stored,
        realised_pnl=stored,
        unrealised_pnl=stored,
        ts=datetime(2024, 1, 1, tzinfo=UTC),
    )

    payload = orjson.loads(encode(position))

    assert {
        payload[k] for k in ("quantity", "average_price", "realised_pnl", "unrealised_pnl")
    } == {shown}


_AMOUNT = st.decimals(allow_nan=False, allow_infinity=False, places=8) | st.decimals(
    allow_nan=False, allow_infinity=False
)


@given(
    quantity=_AMOUNT,
    limit=st.none() | _AMOUNT,
    ts=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])),
    reason=st.none() | st.text(),
)
def test_events_with_amounts_encode_to_the_bytes_pydantic_writes(quantity, limit, ts, reason):
    # Events with amounts skip pydantic's serializer (their amounts written as plain text
    # first): the bytes must be the serializer's, byte for byte.
    order = OrderEvent(
        user_id=1,
        order_id=2,
        version=3,
        broker_account_id=4,
        client_order_id="k-1",
        symbol="INFY",
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        product=Product.CNC,
        validity=Validity.DAY,
        status=OrderStatus.PARTIALLY_FILLED,
        quantity=quantity,
        filled_quantity=quantity,
        limit_price=limit,
        average_price=limit,
        origin="subscription",
        reason=reason,
        created_at=ts,
        ts=ts,
    )
    position = PositionEvent(
        user_id=1,
        broker_account_id=1,
        symbol="INFY",
        quantity=quantity,
        average_price=limit if limit is not None else quantity,
        realised_pnl=quantity,
        unrealised_pnl=-quantity,
        ts=ts,
    )
    for message in (order, position, fill(quantity)):
        assert encode(message) == message.__pydantic_serializer__.to_json(message)
        assert decode(encode(message)) == message


def test_every_event_with_amounts_takes_the_direct_path():
    from shared.bus.codec import _AMOUNTS

    assert {OrderEvent, FillEvent, PositionEvent, AccountEvent, OrderIntent} <= set(_AMOUNTS)

"""Request bodies take JSON's own types: no bool for an int, no number for a string or a bool."""

from __future__ import annotations

import types
from decimal import Decimal
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import ValidationError

import api_gateway.app  # noqa: F401  (imports every router, so every request model exists)
from api_gateway.schemas.brokers import BrokerAccountCreate
from api_gateway.schemas.common import RequestModel
from api_gateway.schemas.orders import OrderCreate

# what lax validation would coerce, by the field's type
LOOSE: dict[type, list[Any]] = {
    bool: [1, 0, "true", "yes"],
    int: [True, "1", 1.0],
    str: [5, 1.5, True],
    Decimal: [True, False],
}


def _request_models() -> list[type[RequestModel]]:
    found, todo = [], [RequestModel]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls is not RequestModel:
            found.append(cls)
    return sorted(found, key=lambda c: c.__name__)


def _base_type(annotation: Any) -> Any:
    """The type inside ``X | None`` and ``Annotated[X, ...]``."""
    while get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None
        annotation = args[0]
    return annotation


CASES = [
    pytest.param(model, name, value, id=f"{model.__name__}.{name}={value!r}")
    for model in _request_models()
    for name, field in model.model_fields.items()
    for value in LOOSE.get(_base_type(field.annotation), [])
]


def test_every_request_model_has_fields_to_check():
    assert {c.values[0].__name__ for c in CASES} >= {
        "AdminHalt",
        "OrderCreate",
        "BrokerAccountUpdate",
    }


@pytest.mark.parametrize(("model", "name", "value"), CASES)
def test_request_fields_refuse_coerced_values(model, name, value):
    # validate_python on decoded JSON, as FastAPI validates a body
    with pytest.raises(ValidationError) as info:
        model.model_validate({name: value})

    assert any(e["loc"][:1] == (name,) for e in info.value.errors())


def test_amounts_arrive_as_json_strings_or_numbers():
    body = {"broker_account_id": 1, "symbol": "INFY", "side": "BUY", "order_type": "LIMIT"}

    as_string = OrderCreate.model_validate({**body, "quantity": "2", "limit_price": "1500.05"})
    as_number = OrderCreate.model_validate({**body, "quantity": 2, "limit_price": 1500.05})

    assert (as_string.quantity, as_string.limit_price) == (Decimal(2), Decimal("1500.05"))
    assert (as_number.quantity, as_number.limit_price) == (Decimal(2), Decimal("1500.05"))
    assert BrokerAccountCreate.model_validate({"label": "x", "starting_capital": 1000})


def test_enum_fields_take_their_string_values():
    order = OrderCreate.model_validate(
        {"broker_account_id": 1, "symbol": "INFY", "side": "SELL", "quantity": "1"}
        | {"order_type": "MARKET", "product": "CNC", "validity": "IOC"}
    )

    assert (order.side, order.product, order.validity) == ("SELL", "CNC", "IOC")

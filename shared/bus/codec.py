"""Bus messages to bytes and back: JSON, with the ``kind`` field choosing the class.

Decimals travel as strings (exact), datetimes as ISO 8601. Messages whose fields
are JSON-native, or JSON-native and amounts, are written by orjson from their
values (the amounts first made their plain text), byte for byte what the
pydantic-core serializer writes and in under half its time; the others by that
serializer. Decoding validates JSON in one pass through a discriminated union, in
Rust, which measured faster than ``orjson.loads`` + ``model_validate``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import orjson
from pydantic import Field, PlainSerializer, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from shared import alerts, contracts
from shared.contracts import Message, plain_decimal

__all__ = [
    "REGISTRY",
    "InvalidMessage",
    "MessageDecodeError",
    "UnknownMessage",
    "decode",
    "encode",
]


class MessageDecodeError(ValueError):
    """Bytes on the bus that are not a message this process understands; log and ack it."""


class UnknownMessage(MessageDecodeError):
    """A well-formed payload whose ``kind`` no class here declares (e.g. from a newer producer)."""

    def __init__(self, kind: object) -> None:
        super().__init__(f"unknown message kind {kind!r}; known: {', '.join(sorted(REGISTRY))}")
        self.kind = kind


class InvalidMessage(MessageDecodeError):
    """A payload that is not JSON, has no ``kind``, or fails its class's validation."""


def _message_classes() -> dict[str, type[Message]]:
    """Every concrete message class of the contracts (and alerts) modules, by its ``kind``."""
    found: dict[str, type[Message]] = {}
    members = [
        *inspect.getmembers(contracts, inspect.isclass),
        *inspect.getmembers(alerts, inspect.isclass),
    ]
    for _, cls in members:
        if cls in found.values():
            continue  # a class the alerts module imports from the contracts
        if not issubclass(cls, Message) or cls is Message:
            continue
        field = cls.model_fields.get("kind")
        if field is None or not isinstance(field.default, str):
            continue
        if field.default in found:
            raise RuntimeError(f"two message classes declare kind {field.default!r}")
        found[field.default] = cls
    return found


REGISTRY: Mapping[str, type[Message]] = _message_classes()

_ANY_MESSAGE: TypeAdapter[Message] = TypeAdapter(
    Annotated[Union[tuple(REGISTRY.values())], Field(discriminator="kind")]  # noqa: UP007
)


def encode(message: Message) -> bytes:
    """The message as compact JSON bytes."""
    kind = type(message)
    if kind in _PLAIN:
        # Field values orjson writes as pydantic would (str, numbers, UTC datetimes with
        # "Z", string enums): about a third of the serializer's cost, which counts when a
        # burst of thousands of candles is published at a minute boundary.
        return orjson.dumps(vars(message), option=orjson.OPT_UTC_Z)
    amounts = _AMOUNTS.get(kind)
    if amounts is not None:
        # The same, with the amounts (Decimals) written first as their plain text, as the
        # field's serializer writes them: under half the serializer's cost for an order
        # event, three of which an order sends on its way to a fill.
        values = vars(message).copy()
        for name in amounts:
            value = values[name]
            if value is not None:
                values[name] = plain_decimal(value)
        return orjson.dumps(values, option=orjson.OPT_UTC_Z)
    return message.__pydantic_serializer__.to_json(message)


_PLAIN_TYPES: tuple[type, ...] = (str, int, float, bool, datetime, type(None))


def _plain_annotation(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Literal:
        return all(isinstance(arg, str | int | bool) for arg in get_args(annotation))
    if origin in (Union, UnionType):
        return all(_plain_annotation(arg) for arg in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return all(isinstance(member.value, str) for member in annotation)
    return annotation in _PLAIN_TYPES


def _is_amount(field: FieldInfo) -> bool:
    """An ``Amount`` (or ``Amount | None``): a Decimal its serializer writes as plain text."""
    annotation, metadata = field.annotation, field.metadata
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != 1 or get_origin(args[0]) is not Annotated:
            return False
        annotation, *metadata = get_args(args[0])
    return annotation is Decimal and any(
        isinstance(m, PlainSerializer) and m.func is plain_decimal for m in metadata
    )


def _own_serialization(cls: type[Message]) -> bool:
    """Whether the class has a serializer, alias or extra field of its own."""
    decorators = cls.__pydantic_decorators__
    return bool(
        cls.model_config.get("extra") == "allow"
        or decorators.field_serializers
        or decorators.model_serializers
        or decorators.computed_fields
        or any(f.serialization_alias or f.alias for f in cls.model_fields.values())
    )


def _is_plain(cls: type[Message]) -> bool:
    """Fields of JSON-native types only, and no serializer, alias or extra field of its own."""
    return not _own_serialization(cls) and all(
        _plain_annotation(f.annotation) for f in cls.model_fields.values()
    )


def _amounts(cls: type[Message]) -> tuple[str, ...] | None:
    """The ``Amount`` fields of a class whose other fields are plain (None: not such a class)."""
    if _own_serialization(cls):
        return None
    fields = cls.model_fields
    amounts = tuple(name for name, f in fields.items() if _is_amount(f))
    others = (f for name, f in fields.items() if name not in amounts)
    if not amounts or not all(_plain_annotation(f.annotation) for f in others):
        return None
    return amounts


_PLAIN: frozenset[type[Message]] = frozenset(c for c in REGISTRY.values() if _is_plain(c))
_AMOUNTS: Mapping[type[Message], tuple[str, ...]] = {
    c: found for c in REGISTRY.values() if (found := _amounts(c)) is not None
}


def decode(data: bytes | str) -> Message:
    """The message these bytes encode, as its own class; raises ``MessageDecodeError``."""
    try:
        return _ANY_MESSAGE.validate_json(data)
    except ValidationError as exc:
        raise _decode_error(data, exc) from None


def _decode_error(data: bytes | str, exc: ValidationError) -> MessageDecodeError:
    first = exc.errors(include_url=False)[0]
    if first["type"] == "union_tag_invalid":
        return UnknownMessage(_kind_of(data))
    return InvalidMessage(
        f"undecodable message ({first['type']}: {first['msg']}): {_preview(data)}"
    )


def _kind_of(data: bytes | str) -> Any:
    try:
        return orjson.loads(data).get("kind")
    except (orjson.JSONDecodeError, AttributeError):
        return None


def _preview(data: bytes | str, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text if len(text) <= limit else text[:limit] + "..."

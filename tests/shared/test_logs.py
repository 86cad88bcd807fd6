"""JSON log lines, correlation ids, and the correlation id carried by order messages."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

from shared.bus.codec import decode, encode
from shared.contracts import OrderCommand, OrderIntent, Side
from shared.logs import (
    JsonFormatter,
    configure_logging,
    correlation,
    current_correlation_id,
    log_handler,
)

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def _intent(**fields: object) -> OrderIntent:
    base: dict[str, object] = {
        "client_order_id": "k-1",
        "user_id": 1,
        "broker_account_id": 2,
        "symbol": "SOLUSDT",
        "side": Side.BUY,
        "quantity": Decimal("1"),
        "created_at": NOW,
    }
    base.update(fields)
    return OrderIntent(**base)  # type: ignore[arg-type]


def _lines(emit) -> list[dict]:
    out = io.StringIO()
    handler = log_handler("json", service="test")
    handler.stream = out
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_traceback_is_a_field_of_one_line():
    def emit(logger):
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            logger.exception("it failed", extra={"order_id": 7})

    [line] = _lines(emit)
    assert line["level"] == "ERROR" and line["message"] == "it failed"
    assert line["exc_type"] == "ValueError"
    assert "Traceback" in line["traceback"] and "bad\nthing" in line["traceback"]
    assert line["order_id"] == 7 and line["service"] == "test"


def test_lines_carry_the_correlation_id_of_their_context():
    def emit(logger):
        with correlation("req-1"):
            logger.info("inside")
        logger.info("outside")

    inside, outside = _lines(emit)
    assert inside["correlation_id"] == "req-1"
    assert "correlation_id" not in outside


def test_an_unusable_id_is_replaced_by_a_new_one():
    with correlation("has spaces and\nnewlines") as cid:
        assert cid != "has spaces and\nnewlines" and len(cid) == 32
        assert current_correlation_id() == cid
    assert current_correlation_id() is None


def test_order_messages_take_the_context_correlation_id():
    with correlation("req-9"):
        intent = _intent()
        command = OrderCommand(
            action="cancel", user_id=1, broker_account_id=2, order_id=3, version=1, created_at=NOW
        )
    assert intent.correlation_id == "req-9" and command.correlation_id == "req-9"
    assert _intent().correlation_id is None


def test_the_correlation_id_crosses_the_bus():
    for message in (
        _intent(correlation_id="sig-abc"),
        OrderCommand(
            action="modify",
            user_id=1,
            broker_account_id=2,
            order_id=3,
            version=4,
            created_at=NOW,
            correlation_id="req-2",
        ),
    ):
        assert decode(encode(message)) == message


def test_a_message_from_an_older_producer_without_the_field_still_decodes():
    old = json.loads(encode(_intent(correlation_id="x")))
    del old["correlation_id"]
    decoded = decode(json.dumps(old).encode())
    assert isinstance(decoded, OrderIntent) and decoded.correlation_id is None


def test_the_correlation_id_is_not_one_of_the_order_terms():
    from order_processor.records import request_hash

    assert request_hash(_intent(correlation_id="a")) == request_hash(_intent(correlation_id="b"))


def test_configure_logging_quiets_per_request_client_logs():
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    try:
        configure_logging("INFO", "json", "market-data")
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
        logging.getLogger("httpx").setLevel(logging.NOTSET)

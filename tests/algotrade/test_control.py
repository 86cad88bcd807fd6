"""``algotrade halt``, ``resume`` and ``liquidate``: the kill switch through the order processor's
interface, audited, with its cancels and close orders handed to the order processor."""

from __future__ import annotations

import asyncio
import json

from order_processor.api import OrderFilters
from shared.bus import InProcessEventBus
from shared.clock import SystemClock
from shared.contracts import (
    CHANNEL_CONTROL,
    ControlEvent,
    OrderCommand,
    OrderIntent,
    intent_stream,
)
from shared.models import AuditEntry, Order, TradingHalt, User
from shared.outbox import Relay, unpack
from tests.algotrade.conftest import rows


def _admin_id(cli):
    return rows(cli, User, User.email == cli.book.admin_email)[0].id


def _status(cli, order_id):
    return rows(cli, Order, Order.id == order_id)[0].status


def _halt(cli, *args):
    result = cli("halt", *args)
    assert result.exit_code == 0, result.output
    return result


def test_halt_cancels_the_users_working_orders_and_is_audited(cli):
    result = cli(
        "halt", cli.book.trader_email, "--reason", "compliance", "--as", cli.book.admin_email
    )

    assert result.exit_code == 0, result.output
    assert _status(cli, cli.book.resting_order_id) == "PENDING_CANCEL"
    [halt] = rows(cli, TradingHalt)
    assert (halt.user_id, halt.reason, halt.created_by) == (
        cli.book.trader_id,
        "compliance",
        _admin_id(cli),
    )
    [entry] = rows(cli, AuditEntry, AuditEntry.action == "trading.halt")
    assert (entry.actor_id, entry.target_id) == (_admin_id(cli), str(cli.book.trader_id))
    assert entry.details["cancelled"] == [cli.book.resting_order_id]
    assert entry.ip_address.startswith("cli:")


def test_halt_json_is_the_apis_outcome(cli):
    result = _halt(cli, cli.book.trader_email, "-r", "x", "--json")

    outcome = json.loads(result.stdout)
    assert outcome["cancelled_order_ids"] == [cli.book.resting_order_id]
    assert [h["user_id"] for h in outcome["halts"]] == [cli.book.trader_id]
    assert outcome["orders"] == []


def test_halt_with_a_shared_bus_commits_then_announces_then_sends_the_cancels(cli):
    bus = cli.as_distributed()

    _halt(cli, cli.book.trader_email, "--reason", "x")

    kinds = [kind for kind, _, _ in bus.sent]
    assert kinds == sorted(kinds, reverse=True)  # every event published before any command
    events = [m for kind, _, m in bus.sent if kind == "publish"]
    assert [(e.action, e.user_id) for e in events if isinstance(e, ControlEvent)] == [
        ("halt", cli.book.trader_id)
    ]
    commands = [(where, m) for kind, where, m in bus.sent if kind == "append"]
    assert [(where, type(m), m.order_id) for where, m in commands] == [
        (intent_stream(m.broker_account_id), OrderCommand, cli.book.resting_order_id)
        for _, m in commands
    ]
    assert cli.outbox() == []  # relayed


def test_halt_in_the_embedded_profile_is_carried_out_by_the_running_platform(cli):
    _halt(cli, cli.book.trader_email, "--reason", "x")
    [batch] = cli.outbox()  # the events, left for the platform's relay
    left = [m for channel, m in unpack(batch.messages) if channel == CHANNEL_CONTROL]
    assert [m.action for m in left] == ["halt"]

    status, heard = asyncio.run(_platform_takes_over(cli))

    assert status == "CANCELLED"
    assert ("halt", cli.book.trader_id) in [(e.action, e.user_id) for e in heard]
    assert cli.outbox() == []


async def _platform_takes_over(cli):
    """What `algotrade run` does with work a command left: its order engine recovers pending
    cancels, its relay publishes outbox rows left by another writer."""
    from order_processor.engine import OrderEngine

    bus = InProcessEventBus()
    heard = await bus.subscribe([CHANNEL_CONTROL])
    sessions = cli.context.sessions
    engine = OrderEngine(sessions=sessions, bus=bus, clock=SystemClock())
    await engine.ownership.balance()  # alone: every partition is this engine's
    await engine.recover()
    await engine.ownership.release()
    await Relay(sessions, bus, left_after_s=0).turn()
    messages = []
    while (got := await heard.get(wait=0.1)) is not None:
        messages.append(got[1])  # control events only: the channel subscribed
    async with sessions() as session:
        order = await session.get(Order, cli.book.resting_order_id)
        status = order.status
    await bus.close()
    return status, messages


def test_halt_of_everyone_by_the_system_actor(cli):
    _halt(cli, "--all", "--reason", "exchange outage")

    [halt] = rows(cli, TradingHalt)
    assert (halt.user_id, halt.created_by) == (None, None)
    [entry] = rows(cli, AuditEntry, AuditEntry.action == "trading.halt")
    assert (entry.actor_id, entry.target_type) == (None, "platform")


def test_halt_needs_a_user_or_all(cli):
    neither = cli("halt", "--reason", "x")
    both = cli("halt", cli.book.trader_email, "--all", "--reason", "x")

    assert (neither.exit_code, both.exit_code) == (2, 2)
    assert "USER or --all" in neither.stderr
    assert rows(cli, TradingHalt) == []


def test_halt_needs_a_reason(cli):
    missing = cli("halt", cli.book.trader_email)
    blank = cli("halt", cli.book.trader_email, "--reason", "  ")

    assert (missing.exit_code, blank.exit_code) == (2, 2)
    assert rows(cli, TradingHalt) == []


def test_halt_acted_by_a_trader_is_refused(cli):
    result = cli("halt", "--all", "-r", "x", "--as", cli.book.trader_email)

    assert result.exit_code == 1
    assert rows(cli, TradingHalt) == []


def test_resume_lifts_the_users_halts(cli):
    _halt(cli, cli.book.trader_email, "--reason", "x", "--as", cli.book.admin_email)

    result = cli("resume", cli.book.trader_email, "--json")

    assert result.exit_code == 0, result.output
    [halt] = rows(cli, TradingHalt)
    assert halt.cleared_at is not None and halt.cleared_by is None
    assert rows(cli, AuditEntry, AuditEntry.action == "trading.resume")


def test_liquidate_places_market_orders_closing_the_positions(cli):
    result = cli("liquidate", cli.book.trader_email, "--yes", "--json")

    assert result.exit_code == 0, result.output
    [placed] = json.loads(result.stdout)["orders"]
    assert (placed["symbol"], placed["side"], placed["quantity"]) == ("SOLUSDT", "SELL", "2")
    assert (placed["order_type"], placed["origin"], placed["status"]) == (
        "MARKET",
        "system",
        "PENDING",
    )
    [entry] = rows(cli, AuditEntry, AuditEntry.action == "trading.liquidate")
    assert entry.details["orders"] == [placed["id"]]


def test_liquidate_with_a_shared_bus_sends_the_close_intents(cli):
    bus = cli.as_distributed()

    cli("liquidate", cli.book.trader_email, "--yes")

    [intent] = [m for kind, _, m in bus.sent if kind == "append"]
    assert isinstance(intent, OrderIntent)
    assert (intent.purpose, intent.symbol, intent.origin) == ("close", "SOLUSDT", "system")
    assert bus.sent[0][0] == "publish"  # the events first


def test_liquidate_asks_first(cli):
    result = cli("liquidate", cli.book.trader_email, input="n\n")

    assert result.exit_code == 1
    assert rows(cli, Order, Order.origin == "system") == []


def test_the_book_shows_what_the_kill_switch_did(cli):
    _halt(cli, cli.book.trader_email, "--reason", "x")

    page = json.loads(
        cli("orders", cli.book.trader_email, "--status", "PENDING_CANCEL", "--json").stdout
    )

    assert [o["id"] for o in page["items"]] == [cli.book.resting_order_id]
    assert OrderFilters  # the same filters the API's order listing takes

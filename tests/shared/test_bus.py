"""Event bus behaviour, the same tests for both adapters: in-process and Redis."""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from shared.alerts import (
    AlertKind,
    AlertMessage,
    FeedStatusMsg,
    Severity,
    SubscriptionErrorMsg,
)
from shared.bus import EventBus, InProcessEventBus, NoGroup, StreamEntry, Subscription
from shared.bus.codec import REGISTRY
from shared.contracts import (
    AccountEvent,
    BacktestProgressMsg,
    CandleMsg,
    ControlEvent,
    FillEvent,
    MarketStatusMsg,
    Message,
    OrderCommand,
    OrderEvent,
    OrderIntent,
    OrderStatus,
    OrderType,
    PositionEvent,
    Side,
    SignalAction,
    SignalMsg,
    TickMsg,
    Timeframe,
    candle_channel,
    tick_channel,
    user_channel,
)
from shared.redis_client import create_redis
from tests.servers import RedisServer, ServerError, find_binary

IST = timezone(timedelta(hours=5, minutes=30))
T0 = datetime(2024, 3, 1, 9, 15, 0, 123456, tzinfo=IST)


def sample_messages() -> list[Message]:
    """One message of every kind, with Decimals whose exact digits must survive."""
    return [
        TickMsg(symbol="INFY", ts=T0, price=1523.05, qty=0.1),
        CandleMsg(
            symbol="INFY",
            timeframe=Timeframe.M5,
            start=T0,
            end=T0 + timedelta(minutes=5),
            open=1.1,
            high=2.2,
            low=0.3,
            close=1.7,
            volume=1e9,
            trades=42,
        ),
        SignalMsg(
            signal_id="s-1",
            user_id=7,
            subscription_id=3,
            strategy="ema_cross",
            symbol="INFY",
            timeframe=Timeframe.M15,
            candle_end=T0,
            action=SignalAction.EXIT,
            confidence=0.75,
            price=1523.05,
            stop=None,
            target=1600.5,
            reason="cross down",
        ),
        OrderIntent(
            client_order_id="c-1",
            user_id=7,
            broker_account_id=2,
            symbol="INFY",
            side=Side.BUY,
            quantity=Decimal("10.000"),
            order_type=OrderType.LIMIT,
            limit_price=Decimal("1523.0500"),
            trigger_price=Decimal("0.00000001"),
            stop=Decimal("-1E+3"),
            created_at=T0.astimezone(UTC),
        ),
        OrderCommand(
            action="modify",
            user_id=7,
            broker_account_id=2,
            order_id=11,
            version=4,
            created_at=T0.astimezone(UTC),
        ),
        OrderEvent(
            user_id=7,
            order_id=11,
            version=3,
            broker_account_id=2,
            client_order_id="c-1",
            symbol="INFY",
            side=Side.SELL,
            order_type="LIMIT",
            product="MIS",
            validity="DAY",
            status=OrderStatus.PARTIALLY_FILLED,
            quantity=Decimal("10"),
            filled_quantity=Decimal("3.50"),
            limit_price=Decimal("99999999999.95"),
            average_price=Decimal("99999999999.99"),
            origin="subscription",
            subscription_id=4,
            stop_price=Decimal("0.05"),
            created_at=T0,
            ts=T0,
        ),
        FillEvent(
            user_id=7,
            order_id=11,
            fill_id=5,
            symbol="INFY",
            side=Side.BUY,
            quantity=Decimal("3.50"),
            price=Decimal("1523.05"),
            charges=Decimal("0.0000"),
            ts=T0,
        ),
        PositionEvent(
            user_id=7,
            broker_account_id=2,
            symbol="INFY",
            quantity=Decimal("-3.5"),
            average_price=Decimal("1523.05"),
            realised_pnl=Decimal("-12.345678901234"),
            unrealised_pnl=Decimal("0"),
            ts=T0,
        ),
        ControlEvent(action="halt", user_id=None, reason="operator", ts=T0),
        MarketStatusMsg(
            exchange="NSE",
            timezone="Asia/Kolkata",
            is_open=False,
            reason="weekend",
            trading_day=T0.date(),
            next_open=T0 + timedelta(days=2),
            message="NSE is closed (weekend); it opens Mon 07 Dec 09:15 IST",
            ts=T0,
        ),
        AccountEvent(
            user_id=7,
            broker_account_id=3,
            currency="INR",
            starting_capital=Decimal("50000"),
            cash=Decimal("49904.89065"),
            market_value=Decimal("94.99173"),
            equity=Decimal("49999.88238"),
            margin_used=Decimal("94.99173"),
            free_margin=Decimal("49904.89065"),
            realised_pnl=Decimal("0"),
            unrealised_pnl=Decimal("-0.01762"),
            charges=Decimal("0.1"),
            start_of_day_equity=Decimal("50000"),
            day_pnl=Decimal("-0.11762"),
            open_positions=1,
            ts=T0,
        ),
        BacktestProgressMsg(user_id=3, run_id=9, status="running", progress=0.25, ts=T0),
        AlertMessage(
            alert_id="a-1",
            user_id=3,
            alert_kind=AlertKind.ORDER_FILLED,
            severity=Severity.INFO,
            title="Filled",
            body="BUY 1 INFY at 1523.05",
            data={"order_id": 7, "price": "1523.05"},
            created_at=T0,
        ),
        FeedStatusMsg(feed="simulated", state="stale", symbols=["INFY"], detail="no ticks", ts=T0),
        SubscriptionErrorMsg(user_id=3, subscription_id=4, symbol="INFY", reason="boom", ts=T0),
    ]


def intent(n: int) -> OrderIntent:
    return OrderIntent(
        client_order_id=f"c-{n}",
        user_id=1,
        broker_account_id=1,
        symbol="INFY",
        side=Side.BUY,
        quantity=Decimal(n),
        created_at=T0,
    )


def tick(n: int, symbol: str = "INFY") -> TickMsg:
    return TickMsg(symbol=symbol, ts=T0 + timedelta(seconds=n), price=100.0 + n)


class RedisClusterNode(RedisServer):
    """redis-server with cluster mode on; ``run_redis_cluster`` joins a few into a cluster."""

    name = "redis-cluster"

    def __init__(self) -> None:
        super().__init__()
        self._new_ports()

    def _new_ports(self) -> None:
        # The cluster bus listens on port + 10000, so both must be free and below 65536.
        while True:
            port = random.randint(20_000, 55_000)
            if _bindable(port) and _bindable(port + 10_000):
                self.port = port
                self._prepared = False
                return

    def _argv(self) -> list[str]:
        return [
            *super()._argv(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
        ]


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_redis_cluster(size: int = 3) -> Iterator[list[RedisServer]]:
    """A running Redis Cluster of ``size`` primaries (no replicas), all slots assigned."""
    cli = find_binary("redis-cli")
    nodes = [RedisClusterNode() for _ in range(size)]
    try:
        for node in nodes:
            node.start()
        addresses = [f"{n.host}:{n.port}" for n in nodes]
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        for node in nodes:
            while (
                b"cluster_state:ok"
                not in subprocess.run(
                    [cli, "-h", node.host, "-p", str(node.port), "cluster", "info"],
                    capture_output=True,
                    timeout=10,
                ).stdout
            ):
                if time.monotonic() > deadline:
                    raise ServerError(f"cluster not ready: {node!r}")
                time.sleep(0.1)
        yield nodes
    finally:
        for node in nodes:
            node.cleanup()


@pytest.fixture(scope="module")
def redis_cluster(redis_server: RedisServer) -> Iterator[list[RedisServer]]:
    # Depends on redis_server so a missing redis-server skips (or fails under CI) as usual.
    yield from run_redis_cluster()


@pytest.fixture(
    params=[
        "inprocess",
        pytest.param("redis", marks=pytest.mark.service),
        pytest.param("redis-cluster", marks=pytest.mark.service),
    ]
)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    from shared.bus.redis import RedisEventBus

    if request.param == "inprocess":
        bus: EventBus = InProcessEventBus()
    elif request.param == "redis":
        server = request.getfixturevalue("redis_server")
        bus = RedisEventBus(create_redis(host=server.host, port=server.port), owns_client=True)
    else:
        nodes = request.getfixturevalue("redis_cluster")
        client = create_redis(
            host=nodes[0].host,
            port=nodes[0].port,
            cluster_mode=True,
            cluster_nodes=[f"{n.host}:{n.port}" for n in nodes[:2]],
        )
        bus = RedisEventBus(client, owns_client=True)
    yield bus
    await bus.close()


@pytest.fixture
def names() -> Callable[[str], str]:
    """Unique channel/stream names, so tests sharing one Redis never see each other."""
    prefix = uuid.uuid4().hex[:10]
    return lambda name: f"t{prefix}:{name}"


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def received(sub: Subscription, n: int, wait: float = 5.0) -> list[tuple[str, Message]]:
    out = []
    for _ in range(n):
        item = await sub.get(wait=wait)
        assert item is not None, f"got {len(out)} of {n} messages"
        out.append(item)
    return out


# -- pub/sub ------------------------------------------------------------------------------


async def test_subscriber_receives_messages_of_its_channel_in_order(bus, names):
    channel = names(tick_channel("INFY"))
    sub = await bus.subscribe([channel])
    for n in range(3):
        await bus.publish(channel, tick(n))
    assert await received(sub, 3) == [(channel, tick(n)) for n in range(3)]


async def test_subscriber_does_not_receive_other_channels(bus, names):
    sub = await bus.subscribe([names("a")])
    await bus.publish(names("b"), tick(1))
    await bus.publish(names("a"), tick(2))
    assert await received(sub, 1) == [(names("a"), tick(2))]
    assert await sub.get(wait=0.1) is None


async def test_pattern_subscription_receives_every_matching_channel(bus, names):
    sub = await bus.subscribe([], patterns=[names("md:ticks:*")])
    await bus.publish(names(tick_channel("INFY")), tick(1, "INFY"))
    await bus.publish(names(candle_channel("INFY", Timeframe.M1)), tick(2))
    await bus.publish(names(tick_channel("TCS")), tick(3, "TCS"))
    got = await received(sub, 2)
    assert sorted(channel for channel, _ in got) == [names("md:ticks:INFY"), names("md:ticks:TCS")]
    assert await sub.get(wait=0.1) is None


async def test_pattern_character_classes_follow_redis_glob_rules(bus, names):
    sub = await bus.subscribe([], patterns=[names("user:[^0]?")])
    for user_id in (7, 17, 42, 5):
        await bus.publish(names(user_channel(user_id)), tick(user_id))
    got = await received(sub, 2)
    assert sorted(channel for channel, _ in got) == [names("user:17"), names("user:42")]
    assert await sub.get(wait=0.1) is None


async def test_every_subscriber_of_a_channel_gets_every_message(bus, names):
    subs = [await bus.subscribe([names("c")]) for _ in range(3)]
    await bus.publish(names("c"), tick(1))
    for sub in subs:
        assert await received(sub, 1) == [(names("c"), tick(1))]


async def test_closed_subscription_ends_iteration_and_receives_nothing(bus, names):
    sub = await bus.subscribe([names("c")])
    other = await bus.subscribe([names("c")])
    await sub.close()
    await bus.publish(names("c"), tick(1))
    await received(other, 1)
    assert [item async for item in sub] == []


async def test_subscriptions_made_and_closed_between_publishes_change_who_receives(bus, names):
    channel = names(tick_channel("INFY"))
    first = await bus.subscribe([channel])
    await bus.publish(channel, tick(1))  # the channel has receivers now (cached in-process)
    assert await received(first, 1) == [(channel, tick(1))]
    named = await bus.subscribe([channel])
    pattern = await bus.subscribe([], patterns=[names("md:ticks:*")])
    await bus.publish(channel, tick(2))
    assert await received(first, 1) == [(channel, tick(2))]
    assert await received(pattern, 1) == [(channel, tick(2))]
    await first.close()
    await pattern.close()
    await bus.publish(channel, tick(3))

    assert await received(named, 2) == [(channel, tick(2)), (channel, tick(3))]
    assert await named.get(wait=0.1) is None


async def test_full_subscription_queue_drops_oldest_and_counts_them(bus, names):
    sub = await bus.subscribe([names("c")], maxsize=3)
    for n in range(5):
        await bus.publish(names("c"), tick(n))
    await eventually(lambda: sub.qsize() + sub.dropped == 5)
    assert sub.dropped == 2
    assert [m for _, m in await received(sub, 3)] == [tick(2), tick(3), tick(4)]


async def test_every_message_kind_crosses_pub_sub_unchanged(bus, names):
    sub = await bus.subscribe([names("c")])
    for message in sample_messages():
        await bus.publish(names("c"), message)
    got = [m for _, m in await received(sub, len(sample_messages()))]
    assert got == sample_messages()
    assert [type(m) for m in got] == [type(m) for m in sample_messages()]


# -- streams ------------------------------------------------------------------------------


async def test_appended_entries_are_read_by_the_group_in_order(bus, names):
    stream = names("intents")
    await bus.ensure_group(stream, "g")
    ids = [await bus.append(stream, intent(n)) for n in range(3)]
    entries = await bus.read_group(stream, "g", "c1", block_ms=0)
    assert entries == [StreamEntry(i, intent(n)) for n, i in enumerate(ids)]


async def test_entry_ids_increase(bus, names):
    stream = names("s")
    ids = [await bus.append(stream, intent(n)) for n in range(20)]
    parsed = [tuple(map(int, i.split("-"))) for i in ids]
    assert parsed == sorted(set(parsed))


async def test_group_created_after_appends_reads_them(bus, names):
    stream = names("s")
    await bus.append(stream, intent(1))
    await bus.ensure_group(stream, "late")
    assert [e.message for e in await bus.read_group(stream, "late", "c", block_ms=0)] == [intent(1)]


async def test_ensuring_an_existing_group_keeps_its_position(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    await bus.append(stream, intent(1))
    await bus.read_group(stream, "g", "c", block_ms=0)
    await bus.ensure_group(stream, "g")
    assert await bus.read_group(stream, "g", "c", block_ms=0) == []


async def test_read_entries_stay_pending_until_acked(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    for n in range(3):
        await bus.append(stream, intent(n))
    entries = await bus.read_group(stream, "g", "c", block_ms=0)
    assert await bus.pending_count(stream, "g") == 3
    assert await bus.ack(stream, "g", [e.id for e in entries[:2]]) == 2
    assert await bus.pending_count(stream, "g") == 1


async def test_each_group_gets_its_own_copy_of_every_entry(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "risk")
    await bus.ensure_group(stream, "audit")
    await bus.append(stream, intent(1))
    for group in ("risk", "audit"):
        assert [e.message for e in await bus.read_group(stream, group, "c", block_ms=0)] == [
            intent(1)
        ]


async def test_read_group_returns_empty_after_block_time_without_entries(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    started = time.monotonic()
    assert await bus.read_group(stream, "g", "c", block_ms=150) == []
    assert time.monotonic() - started >= 0.1


async def test_blocked_read_wakes_when_an_entry_is_appended(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    reader = asyncio.create_task(bus.read_group(stream, "g", "c", block_ms=3000))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await bus.append(stream, intent(1))
    entries = await reader
    assert [e.message for e in entries] == [intent(1)]
    assert time.monotonic() - started < 1.0


async def test_two_consumers_share_the_work_without_duplicates(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    ids = {await bus.append(stream, intent(n)) for n in range(50)}
    seen: dict[str, list[str]] = {"a": [], "b": []}
    while [await _read_and_ack(bus, stream, c, seen[c]) for c in ("a", "b")] != [[], []]:
        pass
    assert seen["a"] and seen["b"]
    assert set(seen["a"]).isdisjoint(seen["b"])
    assert sorted(seen["a"] + seen["b"]) == sorted(ids)


async def _read_and_ack(
    bus: EventBus, stream: str, consumer: str, seen: list[str]
) -> list[StreamEntry]:
    entries = await bus.read_group(stream, "g", consumer, count=7, block_ms=0)
    seen += [e.id for e in entries]
    await bus.ack(stream, "g", [e.id for e in entries])
    return entries


async def test_unacked_entry_of_dead_consumer_is_claimed_after_min_idle(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    entry_id = await bus.append(stream, intent(1))
    await bus.read_group(stream, "g", "dead", block_ms=0)  # read, never acked
    assert await bus.claim_stale(stream, "g", "alive", min_idle_ms=60_000) == []
    await asyncio.sleep(0.12)
    claimed = await bus.claim_stale(stream, "g", "alive", min_idle_ms=100)
    assert claimed == [StreamEntry(entry_id, intent(1))]
    await bus.ack(stream, "g", [entry_id])
    assert await bus.pending_count(stream, "g") == 0


async def test_claimed_entry_is_not_claimed_again_while_its_new_owner_works(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    await bus.append(stream, intent(1))
    await bus.read_group(stream, "g", "dead", block_ms=0)
    await asyncio.sleep(0.3)
    assert len(await bus.claim_stale(stream, "g", "b", min_idle_ms=250)) == 1
    assert await bus.claim_stale(stream, "g", "c", min_idle_ms=250) == []


async def test_claim_stale_respects_count(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    for n in range(5):
        await bus.append(stream, intent(n))
    await bus.read_group(stream, "g", "dead", block_ms=0)
    await asyncio.sleep(0.06)
    first = await bus.claim_stale(stream, "g", "b", min_idle_ms=50, count=3)
    assert [e.message for e in first] == [intent(n) for n in range(3)]


async def test_claiming_removes_consumers_that_stopped_and_hold_nothing(bus, names):
    bus.forget_consumers_after_s = 0.1  # an hour by default
    stream = names("s")
    await bus.ensure_group(stream, "g")
    entry_id = await bus.append(stream, intent(1))
    await bus.read_group(stream, "g", "dead", block_ms=0)  # took an entry, then died
    await asyncio.sleep(0.15)
    await bus.append(stream, intent(2))
    [taken] = await bus.read_group(stream, "g", "alive", block_ms=0)
    await bus.ack(stream, "g", [taken.id])

    claimed = await bus.claim_stale(stream, "g", "claimer", min_idle_ms=100)

    assert [e.id for e in claimed] == [entry_id]
    assert await bus.consumers(stream, "g") == {"alive": 0, "claimer": 1}


async def test_a_stopped_consumer_stays_until_every_entry_it_held_is_claimed(bus, names):
    bus.forget_consumers_after_s = 0.1
    stream = names("s")
    await bus.ensure_group(stream, "g")
    for n in range(2):
        await bus.append(stream, intent(n))
    await bus.read_group(stream, "g", "dead", block_ms=0)
    await asyncio.sleep(0.15)

    await bus.claim_stale(stream, "g", "claimer", min_idle_ms=100, count=1)
    halfway = await bus.consumers(stream, "g")
    await bus.claim_stale(stream, "g", "claimer", min_idle_ms=100, count=1)

    assert halfway == {"dead": 1, "claimer": 1}  # its entry is not lost with its name
    assert await bus.consumers(stream, "g") == {"claimer": 2}


async def test_a_consumer_given_entries_lately_stays_even_when_everything_is_claimed(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    [entry] = [await bus.append(stream, intent(1))]
    await bus.read_group(stream, "g", "quiet", block_ms=0)
    await bus.ack(stream, "g", [entry])

    await bus.claim_stale(stream, "g", "new-owner", min_idle_ms=0)  # a take-over claims all

    assert await bus.consumers(stream, "g") == {"quiet": 0}


async def test_every_message_kind_crosses_a_stream_unchanged(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    for message in sample_messages():
        await bus.append(stream, message)
    got = [e.message for e in await bus.read_group(stream, "g", "c", block_ms=0)]
    assert got == sample_messages()
    assert [type(m) for m in got] == [type(m) for m in sample_messages()]


async def test_reading_a_group_never_created_raises_no_group(bus, names):
    with pytest.raises(NoGroup):
        await bus.read_group(names("s"), "nope", "c", block_ms=0)


async def test_append_with_maxlen_keeps_the_newest_entries(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g", start_id="0")
    await bus.append_many(stream, [intent(n) for n in range(1000)], maxlen=10)
    entries = await bus.read_group(stream, "g", "c", count=2000, block_ms=0)
    assert 10 <= len(entries) < 1000
    assert entries[-1].message == intent(999)


async def test_ping_is_true_while_open(bus):
    assert await bus.ping() is True


def test_samples_cover_every_registered_message_kind():
    assert sorted(m.kind for m in sample_messages()) == sorted(REGISTRY)


async def test_publish_many_delivers_every_message_in_order_per_channel(bus, names):
    sub = await bus.subscribe([], patterns=[names("*")])
    items = [(names(f"c{n % 3}"), tick(n)) for n in range(12)]
    await bus.publish_many(items)
    got = await received(sub, 12)
    for channel in {c for c, _ in items}:  # across channels Redis Cluster may reorder
        assert [m for c, m in got if c == channel] == [m for c, m in items if c == channel]


async def test_publish_many_into_a_full_queue_drops_the_oldest(bus, names):
    sub = await bus.subscribe([names("c")], maxsize=3)
    await bus.publish_many([(names("c"), tick(n)) for n in range(5)])
    await eventually(lambda: sub.qsize() + sub.dropped == 5)
    assert sub.dropped == 2
    assert [m for _, m in await received(sub, 3)] == [tick(2), tick(3), tick(4)]


async def test_publish_many_delivers_once_per_matching_subscription(bus, names):
    named = await bus.subscribe([names("c")])
    both = await bus.subscribe([names("c")], patterns=[names("*")])
    items = [(names("c"), tick(0)), (names("d"), tick(1))]

    await bus.publish_many(items)

    assert await received(named, 1) == [items[0]]
    got = await received(both, 3)  # the named channel and the pattern both match "c"
    assert sorted(m.price for _, m in got) == [100.0, 100.0, 101.0]


async def test_publish_many_wakes_a_waiting_reader(bus, names):
    sub = await bus.subscribe([], patterns=[names("*")])
    waiting = asyncio.create_task(sub.get(wait=5))
    await asyncio.sleep(0.05)

    await bus.publish_many([(names("c"), tick(7))])

    assert await waiting == (names("c"), tick(7))


async def test_append_many_returns_ids_in_order_and_entries_read_back(bus, names):
    stream = names("s")
    await bus.ensure_group(stream, "g")
    ids = await bus.append_many(stream, [intent(n) for n in range(5)])
    entries = await bus.read_group(stream, "g", "c", block_ms=0)
    assert entries == [StreamEntry(i, intent(n)) for n, i in enumerate(ids)]


async def test_profile_chooses_the_adapter():
    from shared.bus import create_event_bus
    from shared.bus.redis import RedisEventBus
    from shared.config import Settings

    embedded = create_event_bus(Settings(_env_file=None, profile="embedded"))
    distributed = create_event_bus(
        Settings(_env_file=None, profile="distributed", redis_host="10.1.2.3", redis_port=6390)
    )
    assert isinstance(embedded, InProcessEventBus)
    assert isinstance(distributed, RedisEventBus)
    kwargs = distributed.client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"]) == ("10.1.2.3", 6390)
    await embedded.close()
    await distributed.close()

"""A subscription whose evaluation fails is told to its owner: ``SubscriptionErrorMsg`` on the
owner's user channel, once per failure (not on every candle), with an event id that a
re-run of the same burst repeats; the alerts consumer makes one alert of it."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import select

from analytics_service.alerts.consumer import AlertConsumer
from shared.alerts import AlertKind, SubscriptionErrorMsg
from shared.bus import Subscription
from shared.clock import SystemClock
from shared.contracts import SignalMsg, user_channel
from shared.models import Alert
from strategy_workers.evaluation import Evaluator
from strategy_workers.service import EvaluationService
from strategy_workers.strategies import CandleWindow, Signal, Strategy, StrategyRegistry
from tests.strategy_workers import test_service_evaluation as base
from tests.strategy_workers.test_service_evaluation import ProbeParams, World

# The evaluation service's fixtures: a migrated SQLite database, a registry, the world.
template_db = base.template_db
sqlite_url = base.sqlite_url
registry = base.registry
lite = base.lite


class Boom(Strategy[ProbeParams]):
    """Raises on every bar."""

    name = "boom"
    description = "Test strategy that always fails."
    params_model = ProbeParams
    calls: ClassVar[int] = 0

    @property
    def warmup(self) -> int:
        return self.params.bars

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        raise ZeroDivisionError("indicator divided by zero")


async def told(world: World, user_id: int) -> Subscription:
    """What is published on the user's channel from now on."""
    return await world.bus.subscribe([user_channel(user_id)])


async def drain(channel: Subscription) -> list:
    out = []
    while (item := await channel.get(wait=0)) is not None:
        out.append(item[1])
    return out


def with_boom(reg: StrategyRegistry) -> StrategyRegistry:
    reg.register(Boom)
    return reg


async def test_a_failing_strategy_is_told_on_the_owners_channel_and_others_are_not(lite):
    with_boom(lite.registry)
    owner, other = await lite.trader(), await lite.trader()
    sub_id = await lite.subscribe(owner, strategy="boom")
    await lite.subscribe(other)  # a working probe on the same market
    warming = await lite.trader()
    await lite.subscribe(warming, params={"bars": 50})
    candle = await lite.market()
    mine = await told(lite, owner[0])
    theirs = await told(lite, other[0])
    waiting = await told(lite, warming[0])

    outcome = await lite.service.handle([candle])

    [message] = await drain(mine)
    assert isinstance(message, SubscriptionErrorMsg)
    assert (message.user_id, message.subscription_id, message.symbol) == (owner[0], sub_id, "INFY")
    assert "ZeroDivisionError" in message.reason and message.ts == candle.end
    assert message.event_id
    assert all(isinstance(m, SignalMsg) for m in await drain(theirs))
    assert await drain(waiting) == []  # warming up is not a failure
    assert len(outcome.failures) == 1


async def test_unusable_settings_are_a_failure_too(lite):
    owner = await lite.trader()
    sub_id = await lite.subscribe(owner, params={"bars": 0})
    candle = await lite.market()
    mine = await told(lite, owner[0])

    await lite.service.handle([candle])

    [message] = await drain(mine)
    assert message.subscription_id == sub_id and "bars" in message.reason


async def test_the_same_failure_is_told_once_and_a_rerun_repeats_its_event_id(lite):
    with_boom(lite.registry)
    owner = await lite.trader()
    await lite.subscribe(owner, strategy="boom")
    candle = await lite.market()
    mine = await told(lite, owner[0])

    await lite.service.handle([candle])
    await lite.service.handle([candle])  # the next candle fails the same way: quiet
    first = await drain(mine)
    other_process = EvaluationService(
        sessions=lite.sessions,
        bus=lite.bus,
        candle_cache=lite.cache,
        evaluator=Evaluator(registry=lite.registry),
    )
    await other_process.handle([candle])  # a redelivered burst on another worker
    again = await drain(mine)

    assert len(first) == 1 and len(again) == 1
    assert again[0].event_id == first[0].event_id


async def test_the_alerts_consumer_makes_one_subscription_error_alert_of_it(lite):
    with_boom(lite.registry)
    owner = await lite.trader()
    sub_id = await lite.subscribe(owner, strategy="boom")
    candle = await lite.market()
    mine = await told(lite, owner[0])
    consumer = AlertConsumer(lite.sessions, lite.bus, SystemClock())
    other_process = EvaluationService(
        sessions=lite.sessions,
        bus=lite.bus,
        candle_cache=lite.cache,
        evaluator=Evaluator(registry=lite.registry),
    )

    await lite.service.handle([candle])
    await other_process.handle([candle])
    for message in await drain(mine):
        await consumer.handle([(user_channel(owner[0]), message)])

    async with lite.sessions() as s:
        alerts = (await s.scalars(select(Alert).where(Alert.user_id == owner[0]))).all()
    assert [(a.kind, a.data["subscription_id"]) for a in alerts] == [
        (AlertKind.SUBSCRIPTION_ERROR, sub_id)
    ]

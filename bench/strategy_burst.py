"""Strategy evaluation burst: 5,000 symbols close a candle with 10,000 active subscriptions.

Two worker processes (``multiprocessing``, forked), each owning half of the
shards (``shared.tasks.shard_of``), run the real ``EvaluationService`` the Celery
task runs: candle dicts decoded as from a task payload, subscriptions from the
database (SQLite, one file per process; warm per-process cache), windows from
the per-process window store backed by the in-process candle cache (warm:
the previous candle was evaluated by the same process), every strategy
computed once per unique (symbol, strategy, parameters), signals stored in one
transaction per shard, intents appended to the (in-process) stream. The metric
is the time from the burst's start until the last process has emitted its last
intent. The Celery transport itself (about 2 ms per task, 8 tasks) is not in it.

The reference is TA-Lib called directly, in one process, on the same windows:
for every unique computation the indicator calls its strategy makes, nothing
else. Also reported: the CPU time of the busier process (what the burst takes
when each process has a core to itself; the wall time suffers when other work
shares the two cores), the same burst in one process, and a cold burst
(windows read in full from the candle cache).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing as mp
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import talib
from sqlalchemy import insert

from bench._core import Metric
from shared.bus import InProcessEventBus
from shared.candle_cache import InProcessCandleCache
from shared.config import Settings
from shared.contracts import CandleMsg, SubscriptionStatus, Timeframe
from shared.db import create_engine, create_sessionmaker
from shared.models import Base, BrokerAccount, StrategySubscription, User
from shared.tasks import shard_candles, shard_of
from strategy_workers.evaluation import Evaluator
from strategy_workers.service import EvaluationService
from strategy_workers.strategies import build_strategy

DESCRIPTION = "strategy burst: 5,000 symbols x 10,000 subscriptions -> intents, 2 processes"

SEED = 20240611
SYMBOLS = 5_000
SUBSCRIPTIONS = 10_000
SYMBOLS_PER_SUBSCRIPTION = 2
SHARDS = 8
HISTORY = 170  # bars before the first timed burst (the longest warm-up is 150)
TF = Timeframe.M5
BAR = timedelta(minutes=5)
T0 = datetime(2024, 6, 10, 3, 45, tzinfo=UTC)
TARGET_SECONDS = 1.0

# (strategy, parameters) choices: the defaults most often, a few variants.
CHOICES: list[tuple[str, dict[str, Any]]] = [
    ("ma_crossover", {}),
    ("ma_crossover", {"fast": 5, "slow": 20}),
    ("ma_crossover", {"fast": 20, "slow": 50, "ma_type": "ema"}),
    ("rsi_mean_reversion", {}),
    ("rsi_mean_reversion", {"oversold": 25, "overbought": 75}),
    ("macd_rsi", {}),
    ("rsi_trend", {}),
    ("bollinger_breakout", {}),
    ("bollinger_breakout", {"nbdev": 2.5}),
    ("bollinger_squeeze", {}),
    ("sr_breakout", {}),
    ("multi_indicator", {}),
    ("adx_breakout", {}),
]
SIZING: list[tuple[str, dict[str, Any]]] = [
    ("fixed_fractional", {}),
    ("fixed_fractional", {"risk_fraction": "0.02"}),
    ("kelly", {}),
    ("volatility", {}),
]


@dataclass
class Market:
    """Deterministic OHLCV of every symbol, as columns (bars x symbols)."""

    symbols: list[str]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def candles(self, bar: int, symbols: list[str] | None = None) -> list[CandleMsg]:
        """Closed candles of bar ``bar`` (built without validation: the data is ours)."""
        index = {s: i for i, s in enumerate(self.symbols)}
        start = T0 + bar * BAR
        out = []
        for symbol in symbols if symbols is not None else self.symbols:
            i = index[symbol]
            out.append(
                CandleMsg.model_construct(
                    symbol=symbol,
                    timeframe=TF,
                    start=start,
                    end=start + BAR,
                    open=float(self.open[bar, i]),
                    high=float(self.high[bar, i]),
                    low=float(self.low[bar, i]),
                    close=float(self.close[bar, i]),
                    volume=float(self.volume[bar, i]),
                    trades=10,
                )
            )
        return out


def make_market(bars: int, seed: int = SEED) -> Market:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.004, (bars, SYMBOLS))
    close = rng.uniform(100, 3000, SYMBOLS) * np.exp(np.cumsum(steps, axis=0))
    open_ = np.vstack([close[:1], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.002, (bars, SYMBOLS))) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.uniform(1e3, 1e5, (bars, SYMBOLS))
    symbols = [f"SYM{i:04d}" for i in range(SYMBOLS)]
    return Market(symbols, open_, high, low, close, volume)


def make_subscriptions(seed: int = SEED) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed + 1)
    weights = np.array([3.0 if not params else 1.0 for _, params in CHOICES])
    picks = rng.choice(len(CHOICES), SUBSCRIPTIONS, p=weights / weights.sum())
    sizing = rng.choice(len(SIZING), SUBSCRIPTIONS)
    rows = []
    for n in range(SUBSCRIPTIONS):
        strategy, params = CHOICES[int(picks[n])]
        method, sizing_params = SIZING[int(sizing[n])]
        symbols = rng.choice(SYMBOLS, SYMBOLS_PER_SUBSCRIPTION, replace=False)
        rows.append(
            {
                "user_id": 1 + n % 500,
                "broker_account_id": 1 + n % 500,
                "strategy": strategy,
                "params": params,
                "symbols": [f"SYM{int(i):04d}" for i in symbols],
                "timeframe": TF.value,
                "sizing_method": method,
                "sizing_params": sizing_params,
                "capital_allocation": Decimal(1_000_000),
                "mode": "paper",
                "status": SubscriptionStatus.ACTIVE.value,
                "name": "",
            }
        )
    return rows


# -- the database ----------------------------------------------------------------------------


async def _fill_database(url: str, subscriptions: list[dict[str, Any]]) -> None:
    engine = create_engine(Settings(_env_file=None), url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        now = datetime.now(UTC)
        users = [
            {
                "email": f"u{i}@bench",
                "password_hash": "x",
                "full_name": "",
                "role": "trader",
                "is_active": True,
                "token_version": 0,
                "totp_enabled": False,
                "failed_logins": 0,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(1, 501)
        ]
        await conn.execute(insert(User), users)
        accounts = [
            {
                "user_id": i,
                "broker": "paper",
                "label": "p",
                "starting_capital": Decimal(10**7),
                "currency": "INR",
                "is_active": True,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(1, 501)
        ]
        await conn.execute(insert(BrokerAccount), accounts)
        await conn.execute(
            insert(StrategySubscription),
            [dict(row, created_at=now, updated_at=now) for row in subscriptions],
        )
    await engine.dispose()


# -- one worker process ----------------------------------------------------------------------


@dataclass
class BurstResult:
    started: float
    finished: float
    cpu: float
    intents: int
    signals: int
    evaluations: int
    skipped: int


async def _worker(
    db_url: str,
    market: Market,
    shards: list[int],
    bars: list[int],
    wait: Callable[[], None],
    report: Callable[[str, BurstResult], None],
) -> None:
    engine = create_engine(Settings(_env_file=None), db_url)
    bus = InProcessEventBus()
    cache = InProcessCandleCache(depth=HISTORY + len(bars) + 5)
    service = EvaluationService(
        sessions=create_sessionmaker(engine),
        bus=bus,
        candle_cache=cache,
        evaluator=Evaluator(lot_size_for=lambda symbol: 1),
    )
    mine = [s for s in market.symbols if _shard(s) in shards]
    for bar in range(bars[0]):
        await cache.push(market.candles(bar, mine))
    await service.subscriptions.refresh()
    # The history lives in this process only because the cache is in-process here (Redis in
    # production); keep the collector from re-scanning it on every burst.
    gc.collect()
    gc.freeze()
    for n, bar in enumerate(bars):
        candles = market.candles(bar, mine)
        await cache.push(candles)  # the market data engine writes the cache before dispatching
        payloads = [p for shard, p in shard_candles(candles, SHARDS).items() if shard in shards]
        wait()
        result = await _burst(service, payloads)
        report("cold" if n == 0 else "warm", result)
    await bus.close()
    await engine.dispose()


async def _burst(service: EvaluationService, payloads: list[list[dict[str, Any]]]) -> BurstResult:
    started, cpu = time.perf_counter(), time.process_time()
    intents = signals = evaluations = skipped = 0
    for payload in payloads:  # one Celery task per shard, one after another
        outcome = await service.handle([CandleMsg.model_validate(c) for c in payload])
        intents += len(outcome.intents)
        signals += len(outcome.signals)
        evaluations += outcome.evaluations
        skipped += len(outcome.skipped)
    return BurstResult(
        started,
        time.perf_counter(),
        time.process_time() - cpu,
        intents,
        signals,
        evaluations,
        skipped,
    )


def _shard(symbol: str) -> int:
    return shard_of(symbol, SHARDS)


def _child(
    db_url: str,
    market: Market,
    shards: list[int],
    bars: list[int],
    barrier: Any,
    conn: Connection,
) -> None:
    def report(kind: str, result: BurstResult) -> None:
        conn.send((kind, result))

    asyncio.run(_worker(db_url, market, shards, bars, barrier.wait, report))
    conn.close()


def _run_processes(
    db: Path, market: Market, groups: list[list[int]], bars: list[int], tmp: Path
) -> dict[str, list[list[BurstResult]]]:
    """Run one process per shard group in lockstep; results per burst kind, per burst."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(groups))
    pipes, procs = [], []
    for k, shards in enumerate(groups):
        copy = tmp / f"worker{k}-{len(groups)}.db"
        shutil.copy(db, copy)
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_child,
            args=(f"sqlite+aiosqlite:///{copy}", market, shards, bars, barrier, child),
        )
        proc.start()
        child.close()
        pipes.append(parent)
        procs.append(proc)
    runs: list[list[tuple[str, BurstResult]]] = [[] for _ in groups]
    for k, pipe in enumerate(pipes):
        while True:
            try:
                runs[k].append(pipe.recv())
            except EOFError:
                break
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"benchmark worker exited with {proc.exitcode}")
    out: dict[str, list[list[BurstResult]]] = {"cold": [], "warm": []}
    for i in range(len(bars)):
        kind = runs[0][i][0]
        out[kind].append([r[i][1] for r in runs])
    return out


def _span(bursts: list[BurstResult]) -> float:
    return max(b.finished for b in bursts) - min(b.started for b in bursts)


# -- the reference: TA-Lib directly ------------------------------------------------------------


_TA_NAMES = ("ATR", "SMA", "EMA", "RSI", "MACD", "BBANDS", "ADX", "PLUS_DI", "MINUS_DI", "STOCH")
# The Cython functions under talib's pandas/polars wrapper, as the strategies call them.
ta = SimpleNamespace(
    **{
        name: getattr(getattr(talib, name), "__wrapped__", getattr(talib, name))
        for name in (*_TA_NAMES, "MAX", "MIN")
    }
)


def _talib_calls(strategy: str, params: dict[str, Any]) -> Callable[..., None]:
    """The indicator calls ``strategy`` makes, with its parameters, as one function."""
    p = build_strategy(strategy, params).params
    atr = getattr(p, "atr_period", 14)

    def calls(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> None:
        ta.ATR(h, lo, c, atr)
        if strategy == "ma_crossover":
            ma = ta.EMA if p.ma_type == "ema" else ta.SMA
            ma(c, p.fast)
            ma(c, p.slow)
        elif strategy == "rsi_mean_reversion":
            ta.RSI(c, p.period)
        elif strategy == "macd_rsi":
            ta.MACD(c, p.fast, p.slow, p.signal)
            ta.RSI(c, p.rsi_period)
        elif strategy == "rsi_trend":
            ta.RSI(c, p.period)
            ta.EMA(c, p.trend_period)
        elif strategy == "bollinger_breakout":
            ta.BBANDS(c, p.period, p.nbdev, p.nbdev)
        elif strategy == "bollinger_squeeze":
            ta.BBANDS(c, p.period, p.nbdev, p.nbdev)
            ta.EMA(c, p.period)
            ta.ATR(h, lo, c, p.period)
        elif strategy == "multi_indicator":
            ta.RSI(c, 14)
            ta.MACD(c, 12, 26, 9)
            ta.BBANDS(c, 20, 2.0, 2.0)
            ta.ADX(h, lo, c, 14)
            ta.PLUS_DI(h, lo, c, 14)
            ta.MINUS_DI(h, lo, c, 14)
            ta.STOCH(h, lo, c)
        elif strategy == "adx_breakout":
            ta.ADX(h, lo, c, p.adx_period)
            ta.PLUS_DI(h, lo, c, p.adx_period)
            ta.MINUS_DI(h, lo, c, p.adx_period)
            ta.MAX(h, p.lookback)
            ta.MIN(lo, p.lookback)

    return calls


def talib_reference(market: Market, subscriptions: list[dict[str, Any]], bar: int) -> float:
    """Seconds for TA-Lib alone over every unique computation's window at ``bar``."""
    unique: dict[str, set[tuple[str, str]]] = {}
    for row in subscriptions:
        key = (row["strategy"], repr(sorted(row["params"].items())))
        for symbol in row["symbols"]:
            unique.setdefault(symbol, set()).add(key)
    params = {repr(sorted(p.items())): p for _, p in CHOICES}
    work = []
    for symbol, keys in unique.items():
        i = int(symbol[3:])
        for strategy, pkey in keys:
            strat = build_strategy(strategy, params[pkey])
            lo = bar + 1 - strat.warmup
            cols = [
                np.ascontiguousarray(a[lo : bar + 1, i])
                for a in (market.open, market.high, market.low, market.close)
            ]
            work.append((_talib_calls(strategy, params[pkey]), cols))
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for calls, cols in work:
            calls(*cols)
        best = min(best, time.perf_counter() - started)
    return best


# -- the benchmark ---------------------------------------------------------------------------


def run(quick: bool) -> list[Metric]:
    repeats = 3 if quick else 7
    bars = list(range(HISTORY, HISTORY + 1 + repeats))  # the first burst is cold
    market = make_market(HISTORY + len(bars) + 1)
    subscriptions = make_subscriptions()
    tmp = Path(tempfile.mkdtemp(prefix="bench-strategy-"))
    try:
        db = tmp / "template.db"
        asyncio.run(_fill_database(f"sqlite+aiosqlite:///{db}", subscriptions))
        two = _run_processes(
            db, market, [list(range(0, SHARDS, 2)), list(range(1, SHARDS, 2))], bars, tmp
        )
        one = _run_processes(db, market, [list(range(SHARDS))], bars, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    reference = talib_reference(market, subscriptions, bars[-1])

    warm2 = statistics.median(_span(b) for b in two["warm"])
    warm1 = statistics.median(_span(b) for b in one["warm"])
    cpu2 = statistics.median(max(r.cpu for r in b) for b in two["warm"])
    cold2 = _span(two["cold"][0])
    last = two["warm"][-1]
    intents = sum(b.intents for b in last)
    evaluations = sum(b.evaluations for b in last)
    same = [sum(b.intents for b in runs) for runs in two["warm"]] == [
        sum(b.intents for b in runs) for runs in one["warm"]
    ]
    if not same:
        raise RuntimeError("one process and two processes emitted different intents")
    return [
        Metric(
            "burst, 2 processes (5k symbols, 10k subscriptions)",
            warm2,
            "s",
            reference="TA-Lib direct, same windows, 1 process",
            reference_value=reference,
            target=f"<= {TARGET_SECONDS} s",
            met=warm2 <= TARGET_SECONDS,
        ),
        Metric(
            "burst CPU time, busiest of the 2 processes",
            cpu2,
            "s",
            reference="TA-Lib direct, same windows, 1 process",
            reference_value=reference,
            target=f"<= {TARGET_SECONDS} s",
            met=cpu2 <= TARGET_SECONDS,
        ),
        Metric(
            "burst, 1 process",
            warm1,
            "s",
            reference="TA-Lib direct, same windows, 1 process",
            reference_value=reference,
        ),
        Metric("throughput, 1 process", SUBSCRIPTIONS / warm1, "subscriptions/s"),
        Metric("unique computations per burst", evaluations, "count"),
        Metric("intents per burst", intents, "count"),
        Metric(
            "cold burst, 2 processes (windows read in full from the cache)",
            cold2,
            "s",
            reference="TA-Lib direct, same windows, 1 process",
            reference_value=reference,
        ),
    ]

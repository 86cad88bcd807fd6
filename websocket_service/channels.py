"""Client-facing channel names and how they map onto bus channels and message kinds."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.contracts import CHANNEL_MARKET_STATUS, Timeframe, candle_channel, tick_channel

_SYMBOL = r"[A-Z0-9][A-Z0-9&_.-]{0,29}"
_TICKS = re.compile(rf"^ticks:({_SYMBOL})$")
_CANDLES = re.compile(rf"^candles:({_SYMBOL}):(1m|5m|15m|1h|1d)$")

# Private channels carry one user's messages; the user is always the connection's own.
PRIVATE = {
    "orders": "order",
    "fills": "fill",
    "positions": "position",
    "signals": "signal",
    "account": "account",
    "alerts": "alert",  # shared.alerts.AlertMessage, from the alerts:{user_id} bus channel
}
KIND_TO_PRIVATE = {kind: name for name, kind in PRIVATE.items()}
# Halts, resumes and liquidations that concern the user (theirs, or everyone's), from the
# control channel: the dashboard follows the halted state without a reload.
TRADING = "trading"
TRADING_ACTIONS = frozenset({"halt", "resume", "liquidate"})
# Every user's halts, resumes and liquidations (and the global ones): administrators only,
# so the admin views follow any user's kill switch live. A connection's admin role is read
# from the database when it authenticates (and again on each re-authentication).
ADMIN_TRADING = "admin:trading"
ADMIN_ONLY = frozenset({ADMIN_TRADING})
STATUS = "status"  # every exchange's market status (public)


@dataclass(frozen=True)
class ClientChannel:
    name: str  # as the client wrote it
    bus_channel: str | None  # public channels: the bus channel; private: None
    private: bool


def parse(name: str) -> ClientChannel:
    """Validate a channel a client asked for; ValueError with the reason otherwise."""
    if name in PRIVATE or name == TRADING or name in ADMIN_ONLY:
        return ClientChannel(name, None, True)
    if name == STATUS:
        return ClientChannel(name, CHANNEL_MARKET_STATUS, False)
    if m := _TICKS.match(name):
        return ClientChannel(name, tick_channel(m.group(1)), False)
    if m := _CANDLES.match(name):
        return ClientChannel(name, candle_channel(m.group(1), Timeframe(m.group(2))), False)
    raise ValueError(
        f"unknown channel {name!r}: use ticks:SYMBOL, candles:SYMBOL:TF (1m,5m,15m,1h,1d), "
        f"{STATUS} or one of {', '.join(sorted([*PRIVATE, TRADING, *ADMIN_ONLY]))}"
    )


def public_name(bus_channel: str) -> str | None:
    """The client channel of a public bus channel (md:ticks:X -> ticks:X)."""
    if bus_channel.startswith("md:"):
        return bus_channel[3:]
    return None

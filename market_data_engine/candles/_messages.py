"""Closed candle rows -> ``CandleMsg`` objects, cheaply.

The engine computed every value itself (floats, ints, aware UTC datetimes, a
``Timeframe``), so validating them again would only cost time, and at a minute
boundary thousands of candles close at once. ``model_construct`` is pydantic's
way to skip validation but loops over the fields in Python; this does what it
does for ``CandleMsg`` (no aliases, no private attributes, no post-init hook),
and falls back to validation if the model ever grows any of those.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from market_data_engine.candles.buckets import TIMEFRAMES, from_ns
from shared.contracts import CandleMsg

_FIELDS = CandleMsg.model_fields
_DEFAULTS = {name: f.default for name, f in _FIELDS.items() if not f.is_required()}
_PLAIN = _DEFAULTS.keys() == {"v", "kind"} and not (
    CandleMsg.__pydantic_post_init__
    or CandleMsg.__private_attributes__
    or CandleMsg.model_config.get("extra") == "allow"
    or any(f.alias or f.validation_alias for f in _FIELDS.values())
)
_V, _KIND = _DEFAULTS.get("v"), _DEFAULTS.get("kind")
# One set shared by every message: pydantic copies it before changing it (model_copy),
# and a frozen model never changes it in place.
_FIELDS_SET = set(_FIELDS)
_set_dict = object.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_TIMEFRAMES = np.array(TIMEFRAMES, dtype=object)
_KEYS = ("symbol", "timeframe", "start", "end", "open", "high", "low", "close", "volume", "trades")
# Volumes are sums of tick quantities in binary floating point (0.01 + 0.08064 can read
# 0.09064000000000001); no venue quotes quantities finer than this, so rounding to it
# removes only that noise.
VOLUME_DECIMALS = 10


def candle_messages(
    names: Sequence[str] | np.ndarray,
    sid: np.ndarray,
    tf: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    trades: np.ndarray,
    shells: list[CandleMsg] | None = None,
) -> list[CandleMsg]:
    """One message per row; ``names[sid]`` is the symbol, ``tf`` the timeframe code.

    Rows take their objects from the end of ``shells`` (see ``message_shells``) while it
    has enough, so a burst only fills in fields.
    """
    n = sid.shape[0]
    if n == 0:
        return []
    columns = (
        np.asarray(names, dtype=object)[sid].tolist(), _TIMEFRAMES[tf].tolist(),
        _datetimes(start), _datetimes(end), open_.tolist(), high.tolist(), low.tolist(),
        close.tolist(), np.round(volume, VOLUME_DECIMALS).tolist(), trades.tolist(),
    )  # fmt: skip
    if not _PLAIN:
        rows = zip(*columns, strict=True)
        return [CandleMsg(**dict(zip(_KEYS, row, strict=True))) for row in rows]
    if shells is not None and len(shells) >= n:
        out = shells[-n:]
        del shells[-n:]
    else:
        out = message_shells(n)
    # Stores into each shell's ready-made field dict: about a fifth of the cost of
    # building a twelve-entry dict per message.
    for d, symbol, timeframe, a, b, o, h, lo, c, v, count in zip(
        map(vars, out), *columns, strict=True
    ):
        d["symbol"] = symbol
        d["timeframe"] = timeframe
        d["start"] = a
        d["end"] = b
        d["open"] = o
        d["high"] = h
        d["low"] = lo
        d["close"] = c
        d["volume"] = v
        d["trades"] = count
    return out


def message_shells(n: int) -> list[CandleMsg]:
    """``n`` ``CandleMsg`` objects with pydantic's bookkeeping set and no fields yet.

    Each has its field dict in declaration order, every field but ``v`` and ``kind`` None.
    Not valid messages until ``candle_messages`` gives them their fields; the engine
    makes them while nothing closes so that a burst of closes skips this part.
    """
    new = CandleMsg.__new__
    template = dict.fromkeys(_FIELDS)
    template.update(v=_V, kind=_KIND)
    copy = template.copy
    out: list[CandleMsg] = []
    append = out.append
    for _ in range(n):
        msg = new(CandleMsg)
        _set_dict(msg, "__dict__", copy())
        _set_fields_set(msg, _FIELDS_SET)
        _set_extra(msg, None)
        _set_private(msg, None)
        append(msg)
    return out


def _datetimes(ns: np.ndarray) -> list[object]:
    """Aware datetimes for epoch-ns values, one object per distinct value."""
    distinct, index = np.unique(ns, return_inverse=True)
    out: list[object] = np.array([from_ns(x) for x in distinct.tolist()], dtype=object)[
        index
    ].tolist()
    return out

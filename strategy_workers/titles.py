"""Human titles for the catalog: strategy and parameter names as a form should label them.

Pydantic titles a field from its name word by word ("Atr Period", "Ma Type"); forms
read better with the usual abbreviations kept and sentence case ("ATR period",
"MA type"). A field with an explicit ``title`` keeps it.
"""

from __future__ import annotations

from pydantic.fields import ComputedFieldInfo, FieldInfo

# Words written their usual way wherever they appear in a name.
_WORDS = {
    "adx": "ADX",
    "atr": "ATR",
    "bb": "Bollinger",
    "bollinger": "Bollinger",
    "keltner": "Keltner",
    "ema": "EMA",
    "k": "%K",
    "ma": "MA",
    "macd": "MACD",
    "nbdev": "std. deviations",
    "pct": "fraction",
    "rsi": "RSI",
    "sma": "SMA",
    "sr": "S/R",
    "stoch": "stochastic",
    "vwap": "VWAP",
}
# Whole names that read better phrased than word by word.
_PHRASES = {
    "reward_risk": "Reward/risk ratio",
    "exit_on_midline": "Exit on the midline",
    "payoff_ratio": "Payoff ratio (average win / average loss)",
}


def human_title(name: str) -> str:
    """``atr_period`` -> "ATR period"; ``w_rsi`` -> "Weight of RSI"; ``ma_type`` -> "MA type"."""
    if name in _PHRASES:
        return _PHRASES[name]
    words = name.split("_")
    prefix = ""
    if len(words) > 1 and words[0] == "w":
        prefix, words = "Weight of ", words[1:]
    text = " ".join(_WORDS.get(word, word) for word in words if word)
    if prefix:
        return prefix + text
    return text[:1].upper() + text[1:]


def field_title(name: str, _: FieldInfo | ComputedFieldInfo) -> str:
    """Pydantic's ``field_title_generator``: the human title of a parameter."""
    return human_title(name)

"""The catalog: registration, entry point discovery, JSON Schemas and parameter validation."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import ConfigDict, Field

from shared.contracts import SignalAction, Timeframe
from strategy_workers.strategies import (
    ENTRY_POINT_GROUP,
    CandleWindow,
    InvalidStrategyParams,
    Signal,
    Strategy,
    StrategyParams,
    StrategyRegistrationError,
    StrategyRegistry,
    UnknownStrategy,
    get_strategy,
    list_strategies,
    validate_params,
)

SEED_CATALOG = {
    "ma_crossover",
    "rsi_mean_reversion",
    "macd_rsi",
    "rsi_trend",
    "bollinger_breakout",
    "bollinger_squeeze",
    "sr_breakout",
    "multi_indicator",
    "adx_breakout",
}


class EchoParams(StrategyParams):
    level: int = Field(5, ge=1, le=10)


class Echo(Strategy[EchoParams]):
    name = "echo"
    description = "Buys on every bar."
    params_model = EchoParams
    timeframes = frozenset({Timeframe.D1})

    @property
    def warmup(self) -> int:
        return self.params.level

    def evaluate(self, window: CandleWindow) -> list[Signal]:
        return [Signal(SignalAction.BUY, 1.0)]


def empty_registry() -> StrategyRegistry:
    return StrategyRegistry(package=None, entry_point_group=None)


def error_fields(exc: InvalidStrategyParams) -> list[str]:
    return [d["field"] for d in exc.details]


def test_catalog_holds_every_seed_strategy():
    assert {info.name for info in list_strategies()} >= SEED_CATALOG


def test_catalog_entries_carry_description_schema_and_defaults():
    for info in list_strategies():
        assert info.description
        assert info.params_schema["additionalProperties"] is False
        for field, default in info.defaults.items():
            assert info.params_schema["properties"][field]["default"] == default


def test_seed_defaults_match_the_systems_they_replace():
    defaults = {info.name: info.defaults for info in list_strategies()}
    assert {k: defaults["rsi_mean_reversion"][k] for k in ("period", "oversold", "overbought")} == {
        "period": 14,
        "oversold": 30,
        "overbought": 70,
    }
    assert {k: defaults["macd_rsi"][k] for k in ("fast", "slow", "signal", "rsi_period")} == {
        "fast": 12,
        "slow": 26,
        "signal": 9,
        "rsi_period": 14,
    }
    assert {k: defaults["bollinger_breakout"][k] for k in ("period", "nbdev")} == {
        "period": 20,
        "nbdev": 2.0,
    }
    assert {k: defaults["sr_breakout"][k] for k in ("lookback", "min_touches")} == {
        "lookback": 20,
        "min_touches": 3,
    }
    vote = defaults["multi_indicator"]
    assert [
        vote[k] for k in ("w_rsi", "w_macd", "w_bollinger", "w_adx", "w_stochastic", "w_atr")
    ] == [
        0.25,
        0.25,
        0.20,
        0.15,
        0.10,
        0.05,
    ]
    assert (
        vote["min_confidence"],
        vote["stop_pct"],
        vote["atr_multiple"],
        vote["reward_risk"],
    ) == (
        0.6,
        0.02,
        1.5,
        3.0,
    )
    adx = defaults["adx_breakout"]
    assert (adx["adx_threshold"], adx["min_confidence"], adx["stop_pct"], adx["atr_multiple"]) == (
        25,
        0.7,
        0.03,
        2.0,
    )
    assert adx["reward_risk"] == 4.0


def test_validate_params_fills_defaults():
    params = validate_params("ma_crossover", {"fast": 5})

    assert params.model_dump()["fast"] == 5
    assert params.model_dump()["slow"] == 30


def test_out_of_bounds_value_is_reported_against_its_field():
    with pytest.raises(InvalidStrategyParams) as caught:
        validate_params("ma_crossover", {"fast": 1})

    assert error_fields(caught.value) == ["params.fast"]
    assert "params.fast" in caught.value.message
    assert caught.value.status_code == 422


def test_unknown_parameter_is_refused_by_name():
    with pytest.raises(InvalidStrategyParams) as caught:
        validate_params("rsi_mean_reversion", {"periodd": 14})

    assert error_fields(caught.value) == ["params.periodd"]


def test_cross_field_rule_names_the_field_that_breaks_it():
    with pytest.raises(InvalidStrategyParams) as caught:
        validate_params("ma_crossover", {"fast": 30, "slow": 20})

    assert error_fields(caught.value) == ["params.slow"]


def test_wrong_type_is_reported_against_its_field():
    with pytest.raises(InvalidStrategyParams) as caught:
        validate_params("bollinger_breakout", {"nbdev": "wide"})

    assert error_fields(caught.value) == ["params.nbdev"]


def test_unknown_strategy_in_validation_is_reported_against_the_strategy_field():
    with pytest.raises(InvalidStrategyParams) as caught:
        validate_params("no_such_strategy", {})

    assert error_fields(caught.value) == ["strategy"]


def test_get_strategy_of_an_unknown_name_is_not_found():
    with pytest.raises(UnknownStrategy) as caught:
        get_strategy("no_such_strategy")

    assert caught.value.status_code == 404


def test_decorator_registers_a_strategy():
    registry = empty_registry()

    registry.register(Echo)

    assert registry.get("echo") is Echo
    assert registry.info("echo").timeframes == ("1d",)
    assert registry.info("echo").warmup == 5


def test_a_second_class_cannot_take_a_registered_name():
    registry = empty_registry()
    registry.register(Echo)

    class Impostor(Echo):
        pass

    with pytest.raises(StrategyRegistrationError, match="taken"):
        registry.register(Impostor)


def test_strategy_names_must_be_lowercase_identifiers():
    class Shouty(Echo):
        name = "Shouty-Name"

    with pytest.raises(StrategyRegistrationError, match="name"):
        empty_registry().register(Shouty)


def test_parameter_models_must_forbid_unknown_fields():
    class LaxParams(StrategyParams):
        model_config = ConfigDict(extra="allow")

    class Lax(Echo):
        name = "lax"
        params_model = LaxParams  # type: ignore[assignment]

    with pytest.raises(StrategyRegistrationError, match="unknown fields"):
        empty_registry().register(Lax)


def test_parameters_without_defaults_are_refused():
    class NeedyParams(StrategyParams):
        level: int

    class Needy(Echo):
        name = "needy"
        params_model = NeedyParams  # type: ignore[assignment]

    with pytest.raises(StrategyRegistrationError, match="default"):
        empty_registry().register(Needy)


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """An installed third-party distribution declaring strategy entry points (one broken)."""
    (tmp_path / "acme_strategies.py").write_text(
        textwrap.dedent(
            """
            from shared.contracts import SignalAction
            from strategy_workers.strategies import Signal, Strategy, StrategyParams

            class AcmeParams(StrategyParams):
                pass

            class Acme(Strategy[AcmeParams]):
                name = "acme_momentum"
                description = "A third-party strategy."
                params_model = AcmeParams

                @property
                def warmup(self):
                    return 1

                def evaluate(self, window):
                    return [Signal(SignalAction.SELL, 0.5)]
            """
        )
    )
    dist = tmp_path / "acme_strategies-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-strategies\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        "acme = acme_strategies:Acme\n"
        "broken = acme_strategies_missing:Nothing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    import sys

    sys.modules.pop("acme_strategies", None)


def test_entry_points_add_third_party_strategies(plugin_dist):
    registry = StrategyRegistry(package=None)

    assert registry.names() == ["acme_momentum"]
    assert registry.get("acme_momentum").description == "A third-party strategy."


def test_a_broken_plugin_does_not_hide_the_built_in_catalog(plugin_dist):
    registry = StrategyRegistry()

    assert SEED_CATALOG | {"acme_momentum"} <= set(registry.names())

"""The catalog labels strategies and parameters as people write them, not as code names them."""

from __future__ import annotations

from strategy_workers.api import list_strategies, sizing_schemas
from strategy_workers.titles import human_title


def test_abbreviations_keep_their_case_and_titles_are_sentence_case():
    assert human_title("atr_period") == "ATR period"
    assert human_title("ma_type") == "MA type"
    assert human_title("w_rsi") == "Weight of RSI"
    assert human_title("risk_fraction") == "Risk fraction"


def test_every_strategy_has_a_title_and_every_parameter_a_human_one():
    for info in list_strategies():
        assert info.title and info.title != info.name
        for name, prop in info.params_schema["properties"].items():
            assert prop["title"] == human_title(name), (info.name, name)


def test_the_moving_average_crossover_reads_as_people_write_it():
    info = next(i for i in list_strategies() if i.name == "ma_crossover")
    titles = [p["title"] for p in info.params_schema["properties"].values()]
    assert info.title == "Moving-average crossover"
    assert {"ATR period", "MA type", "Fast"} <= set(titles)


def test_sizing_parameters_have_human_titles():
    fixed = sizing_schemas()["fixed_fractional"]["properties"]
    assert fixed["risk_fraction"]["title"] == "Risk fraction"

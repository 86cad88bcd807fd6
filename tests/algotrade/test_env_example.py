"""``.env.example`` is generated from the settings and must not drift from them."""

from __future__ import annotations

from algotrade.env_example import TARGET, main, render
from shared.config import Settings
from strategy_workers.options import WorkerOptions


def test_the_committed_env_example_is_what_the_settings_render():
    assert TARGET.read_text() == render(), "run: python -m algotrade.env_example"


def test_every_setting_is_in_it():
    text = render()
    for name in Settings.model_fields:
        assert f"ALGOTRADE_{name.upper()}=" in text, name
    for name in WorkerOptions.model_fields:
        assert f"ALGOTRADE_STRATEGY_{name.upper()}=" in text, name


def test_used_as_an_env_file_it_gives_the_defaults(tmp_path):
    env = tmp_path / ".env"
    env.write_text(render())

    assert Settings(_env_file=env) == Settings(_env_file=None)  # type: ignore[call-arg]
    assert WorkerOptions(_env_file=env) == WorkerOptions(_env_file=None)  # type: ignore[call-arg]


def test_check_mode_reports_a_stale_file(tmp_path):
    stale = tmp_path / ".env.example"
    stale.write_text("ALGOTRADE_PROFILE=embedded\n")
    assert main(["--check", str(stale)]) == 1
    assert main([str(stale)]) == 0 and main(["--check", str(stale)]) == 0

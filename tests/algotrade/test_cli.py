"""The command line: its commands exist, their help reads well, and migrate/create-admin work."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from algotrade.cli import app

COMMANDS = [
    ["run"],
    ["serve"],
    ["migrate"],
    ["create-admin"],
    ["status"],
    ["users"],
    ["users", "list"],
    ["users", "disable"],
    ["users", "enable"],
    ["users", "role"],
    ["orders"],
    ["positions"],
    ["fills"],
    ["halt"],
    ["resume"],
    ["liquidate"],
    ["backtest"],
    ["sweep"],
]


def test_help_lists_the_platform_commands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "serve", "migrate", "create-admin", "status", "users", "orders"):
        assert command in result.output
    for command in ("positions", "fills", "halt", "resume", "liquidate"):
        assert command in result.output


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.stdout.strip() == f"algotrade {version('algotrade')}"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_without_a_type_on_flags(command):
    result = CliRunner().invoke(app, [*command, "--help"], prog_name="algotrade")

    assert result.exit_code == 0, result.output
    assert "Usage: algotrade " + " ".join(command) in result.output
    assert "<bool>" not in result.output  # flags take no value
    assert "Show this message and exit." in result.output


def test_serve_help_keeps_each_service_name_whole_in_a_narrow_terminal():
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "60"})

    assert result.exit_code == 0
    for service in ("market-data", "order-processor", "strategy-worker"):
        assert service in result.output


def _every_command() -> list[list[str]]:
    """Every command and group of the app, walked from its own tree."""
    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return found


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\s│╭╮╰╯─]+", text))


def _help(command: list[str], columns: int) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_walk_finds_every_command_of_the_docs():
    walked = {" ".join(c) for c in _every_command()}

    assert walked >= {" ".join(c) for c in COMMANDS} | {"data import", "data download"}


@pytest.mark.parametrize("command", _every_command(), ids=lambda c: " ".join(c) or "algotrade")
def test_help_keeps_every_word_whole_in_narrow_terminals(command):
    words = _words(_help(command, 400))  # wide enough that nothing wraps

    for columns in (60, 80):
        shown = _help(command, columns)
        assert "<bool>" not in shown
        # a word cut in two shows as pieces that are no word of the unwrapped help;
        # a cell too narrow for a word ends it with an ellipsis instead
        pieces = {w for w in _words(shown) - words if not w.endswith("…")}
        assert not pieces, f"cut at {columns} columns: {sorted(pieces)}"


def test_migrate_then_create_admin_on_sqlite(tmp_path):
    env = {
        "ALGOTRADE_DATA_DIR": str(tmp_path),
        "ALGOTRADE_ADMIN_PASSWORD": "admin password 123",
        "PATH": "/usr/bin:/bin",
    }
    run = [sys.executable, "-m", "algotrade.cli"]
    migrated = subprocess.run(
        [*run, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    created = subprocess.run(
        [*run, "create-admin", "--email", "root@example.com"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert "created admin root@example.com" in created.stdout
    again = subprocess.run(
        [*run, "create-admin", "--email", "root@example.com"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "promoted to admin" in again.stdout

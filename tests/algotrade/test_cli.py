"""The command line: its commands exist and create-admin works end to end."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from algotrade.cli import app


def test_help_lists_the_platform_commands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "serve", "migrate", "create-admin"):
        assert command in result.output


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

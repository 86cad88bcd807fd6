"""Running the dashboard's browser scripts: the embedded platform, the build, the transcript.

A script (``*.mjs`` beside this file) drives headless Chromium through playwright-core
from web/node_modules and prints one line per step reached ("STEP detail"); the tests
read that transcript. Screenshots go to ``ARTIFACTS`` (git-ignored), kept after the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("WEB_ARTIFACTS", Path(__file__).with_name("artifacts")))
ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "admin password 123"


@dataclass(frozen=True)
class Run:
    returncode: int
    lines: list[str]

    def line(self, step: str) -> str:
        """The detail printed for a step; fails the test when the step was not reached."""
        for line in self.lines:
            name, _, detail = line.partition(" ")
            if name == step:
                return detail
        pytest.fail(f"step {step} not reached:\n" + "\n".join(self.lines), pytrace=False)

    def all(self, step: str) -> list[str]:
        """The details of every line printed for a step (a step printed once per page)."""
        return [line.partition(" ")[2] for line in self.lines if line.partition(" ")[0] == step]


def require(condition: bool, why: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI requires the browser test: {why}", pytrace=False)
    pytest.skip(why)


def ensure_built() -> None:
    """Build web/dist (and install node_modules) when a fresh checkout has neither."""
    built = (WEB / "dist" / "index.html").is_file()
    if built and (WEB / "node_modules" / "playwright-core").is_dir():
        return
    require(shutil.which("npm") is not None, "npm not found: cannot build the dashboard")
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-web.sh")], cwd=ROOT, check=True, timeout=600
    )


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("algotrade")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "algotrade.cli"]


def _wait_healthy(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"platform exited early:\n{log.read_text()[-3000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"platform not healthy within 90 s:\n{log.read_text()[-3000:]}", pytrace=False)


def embedded_platform(work: Path) -> Iterator[str]:
    """The embedded platform (SQLite in ``work``) with an admin, serving the built SPA.

    The simulated feed runs around the clock on the watchlist's default symbols only, so
    BTCUSDT (traded 24x7) ticks, and market orders fill, within moments at any hour.
    """
    require(shutil.which("node") is not None, "node not found")
    require(CHROMIUM.is_file(), f"{CHROMIUM} not found (Debian package 'chromium')")
    ensure_built()
    env = {
        **os.environ,
        "ALGOTRADE_DATA_DIR": str(work / "data"),
        "ALGOTRADE_PROFILE": "embedded",
        "ALGOTRADE_FEED_AROUND_THE_CLOCK": "true",
        "ALGOTRADE_FEED_SYMBOLS": "BTCUSDT,RELIANCE,TCS,INFY,HDFCBANK",
    }
    env.pop("ALGOTRADE_ENVIRONMENT", None)  # development: the default secrets are accepted
    cli = _cli()
    subprocess.run(
        [*cli, "migrate"], env=env, cwd=work, check=True, capture_output=True, timeout=120
    )
    subprocess.run(
        [*cli, "create-admin", "--email", ADMIN_EMAIL],
        env={**env, "ALGOTRADE_ADMIN_PASSWORD": ADMIN_PASSWORD},
        cwd=work,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    log = work / "platform.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*cli, "run", "--port", str(port)], env=env, cwd=work, stdout=out, stderr=out
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", server, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_script(script: Path, env: dict[str, str], timeout: float) -> Run:
    """Run a browser script with ``env`` (added to this process's) and collect its transcript."""
    result = subprocess.run(
        ["node", str(script)],
        env={
            **os.environ,
            "CHROMIUM": str(CHROMIUM),
            "ADMIN_EMAIL": ADMIN_EMAIL,
            "ADMIN_PASSWORD": ADMIN_PASSWORD,
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0:
        print(result.stdout, result.stderr, sep="\n")
    return Run(result.returncode, lines)

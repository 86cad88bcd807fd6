"""``docker-compose.yml`` and what it mounts, checked against the code: commands, settings,
ports, health checks, the scrape configuration and the dashboard's metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from cryptography.fernet import Fernet
from prometheus_client import REGISTRY

import shared.metrics
from algotrade.cli import Service, app
from shared.config import Settings
from strategy_workers.options import WorkerOptions

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP = {name: s for name, s in SERVICES.items() if s.get("image") == "algotrade:latest"}

# The port each service of the platform serves /health, /ready and /metrics on.
PORT_SETTING = {
    "api": "api_port",
    "websocket": "ws_port",
    "market-data": "market_data_probe_port",
    "order-processor": "order_processor_probe_port",
    "strategy-worker": "strategy_worker_probe_port",
    "analytics-worker": "analytics_worker_probe_port",
    "alerts-worker": "analytics_worker_probe_port",
    "alerts": "alerts_probe_port",
}
_SUBSTITUTION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")
_SECRETS = {
    "ALGOTRADE_JWT_SECRET": "x" * 48,
    "ALGOTRADE_SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def _resolve(name: str, value: object) -> str:
    """A compose value with ``${VAR:-default}`` taken as its default and ``${VAR:?}`` as a
    valid stand-in."""

    def sub(match: re.Match[str]) -> str:
        var, kind, rest = match.groups()
        if kind == "-":
            return rest
        return _SECRETS.get(var, _SECRETS.get(name, "stand-in-secret"))

    return _SUBSTITUTION.sub(sub, str(value))


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: _resolve(k, v) for k, v in (service.get("environment") or {}).items()}


def _settings(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in _env(service).items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_every_command_is_a_command_of_the_cli():
    cli = typer.main.get_command(app)
    commands = set(cli.commands)  # type: ignore[attr-defined]
    assert APP, "no service runs the platform's image"
    for name, service in APP.items():
        command = service["command"]
        assert command[0] in commands, f"{name}: {command}"
        if command[0] == "serve":
            assert command[1] in {s.value for s in Service}, f"{name}: {command}"
    dockerfile = (ROOT / "Dockerfile.base").read_text()
    assert 'ENTRYPOINT ["algotrade"]' in dockerfile


def test_every_service_of_the_cli_is_deployed():
    served = {s["command"][1] for s in APP.values() if s["command"][0] == "serve"}
    assert served == {s.value for s in Service}


def test_every_variable_set_is_a_setting():
    known = {f"ALGOTRADE_{n.upper()}" for n in Settings.model_fields}
    known |= {f"ALGOTRADE_STRATEGY_{n.upper()}" for n in WorkerOptions.model_fields}
    for name, service in APP.items():
        for key in _env(service):
            if key.startswith("ALGOTRADE_"):
                assert key in known, f"{name} sets {key}, which is no setting"


@pytest.mark.parametrize("name", sorted(APP))
def test_every_service_environment_is_valid_production_settings(name, monkeypatch):
    settings = _settings(APP[name], monkeypatch)
    assert settings.profile.value == "distributed"
    assert settings.environment.value == "production"
    assert settings.log_format == "json"


def test_every_long_running_service_has_a_health_check():
    for name, service in SERVICES.items():
        if service.get("restart") == "no":
            continue  # a one-off job (migrate)
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


@pytest.mark.parametrize("name", sorted(PORT_SETTING))
def test_health_checks_and_published_ports_use_the_service_port(name, monkeypatch):
    service = APP[name]
    port = getattr(_settings(service, monkeypatch), PORT_SETTING[name])
    assert port, f"{name} serves no health port"
    probe = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/ready" in probe
    for published in service.get("ports", []):
        assert str(published).rsplit(":", 1)[-1] == str(port)


def test_pgbouncer_listens_where_the_services_connect(monkeypatch):
    bouncer = SERVICES["pgbouncer"]
    settings = _settings(APP["api"], monkeypatch)
    assert settings.use_pgbouncer and settings.pgbouncer_host == "pgbouncer"
    assert bouncer["environment"]["LISTEN_PORT"] == str(settings.pgbouncer_port)
    assert bouncer["environment"]["POOL_MODE"] == "transaction"
    assert str(settings.pgbouncer_port) in " ".join(bouncer["healthcheck"]["test"])
    migrate = _settings(SERVICES["migrate"], monkeypatch)
    assert migrate.use_pgbouncer is False  # migrations go straight to PostgreSQL


def test_market_data_is_given_its_feed():
    env = _env(APP["market-data"])
    assert {"ALGOTRADE_FEED", "ALGOTRADE_FEED_SYMBOLS", "ALGOTRADE_CANDLE_GRACE_SECONDS"} <= set(
        env
    )


def test_dependencies_and_mounts_exist():
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_prometheus_scrapes_every_service_on_its_port(monkeypatch):
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name, setting in PORT_SETTING.items():
        port = getattr(_settings(APP[name], monkeypatch), setting)
        [sd] = jobs[name]["dns_sd_configs"]
        assert sd["names"] == [name] and sd["port"] == port


def test_the_dashboard_shows_only_metrics_the_platform_exports():
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/algotrade-overview.json").read_text())
    exported = set()
    for family in REGISTRY.collect():
        exported |= {s.name for s in family.samples} | {family.name}
    for metric in shared.metrics.__dict__.values():
        name = getattr(metric, "_name", None)
        if isinstance(name, str):
            exported |= {name, f"{name}_total", f"{name}_bucket", f"{name}_count"}
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\balgotrade_\w+", target["expr"]))
    assert used, "the dashboard uses no metric of the platform"
    assert used <= exported, used - exported


def test_alert_deliveries_have_a_worker_apart_from_the_backtests(monkeypatch):
    from analytics_service.main import worker_queues
    from shared.alerts import ALERTS_QUEUE

    taken = {}
    for name in ("analytics-worker", "alerts-worker"):
        with monkeypatch.context() as patch:
            taken[name] = worker_queues(_settings(APP[name], patch)).split(",")
    assert taken["alerts-worker"] == [ALERTS_QUEUE]
    assert ALERTS_QUEUE not in taken["analytics-worker"]
    # A deployment that sets nothing still sends deliveries.
    assert ALERTS_QUEUE in worker_queues(Settings(_env_file=None)).split(",")  # type: ignore[call-arg]

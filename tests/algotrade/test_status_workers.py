"""``algotrade status`` asks the processes without HTTP of their own on their health listener."""

from __future__ import annotations

import httpx

from algotrade.probes import probe_http, worker_urls
from shared.config import Settings
from shared.probe_server import ProbeServer


async def _refuse() -> None:
    raise ConnectionError("redis is away")


async def _fine() -> None:
    return None


def test_only_configured_listeners_are_asked():
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        probe_host="0.0.0.0",
        order_processor_probe_port=9102,
    )
    assert worker_urls(settings) == [("order processor process", "http://127.0.0.1:9102/ready")]


async def test_a_worker_whose_dependency_is_down_is_reported_down():
    down = ProbeServer("127.0.0.1", 0, service="order-processor", checks={"redis": _refuse})
    up = ProbeServer("127.0.0.1", 0, service="market-data", checks={"redis": _fine})
    await down.start()
    await up.start()
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            bad = await probe_http(client, "order processor", f"http://127.0.0.1:{down.port}/ready")
            good = await probe_http(client, "market data", f"http://127.0.0.1:{up.port}/ready")
            ready = await client.get(f"http://127.0.0.1:{down.port}/ready")
            scrape = await client.get(f"http://127.0.0.1:{up.port}/metrics")
            missing = await client.get(f"http://127.0.0.1:{up.port}/nothing")
    finally:
        await down.stop()
        await up.stop()

    assert bad.ok is False and "HTTP 503" in bad.detail and bad.required is False
    assert good.ok is True
    assert ready.json() == {
        "status": "unavailable",
        "failed": ["redis"],
        "checks": {"redis": "ConnectionError: redis is away"},
    }
    assert scrape.status_code == 200 and "algotrade_http_requests_total" in scrape.text
    assert missing.status_code == 404


def test_every_configured_listener_is_asked_on_ready_the_analytics_worker_too():
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        market_data_probe_port=9101,
        order_processor_probe_port=9102,
        strategy_worker_probe_port=9103,
        analytics_worker_probe_port=9104,
    )

    assert worker_urls(settings) == [
        ("market data", "http://127.0.0.1:9101/ready"),
        ("order processor process", "http://127.0.0.1:9102/ready"),
        ("strategy worker", "http://127.0.0.1:9103/ready"),
        ("analytics worker", "http://127.0.0.1:9104/ready"),
    ]

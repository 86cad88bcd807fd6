"""A local HTTP server speaking Binance's klines REST and NSE's bhavcopy archive.

Klines are answered from a seeded 1m series in Binance's exact format (the shape of
``fixtures/binance_klines_btcusdt_1m.json``, which holds recorded ones); bhavcopies are
the CSV fixtures, zipped as NSE serves them. ``answers`` can replace any response
(errors recorded from Binance are in ``fixtures/binance_errors.json``).
"""

from __future__ import annotations

import io
import json
import random
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

FIXTURES = Path(__file__).parent / "fixtures"
ERRORS = json.loads((FIXTURES / "binance_errors.json").read_text())

Answer = tuple[int, dict[str, str], bytes]
Override = Callable[[str, dict[str, str]], Answer | None]


def error(name: str) -> Answer:
    """A recorded Binance error response."""
    spec = ERRORS[name]
    body = spec["body"]
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **spec["headers"]}
    return spec["status"], headers, raw


def kline(open_ms: int, step_ms: int, rng: random.Random, price: float) -> tuple[list, float]:
    """One kline in Binance's format, and the close it ends at."""
    o = round(price, 2)
    c = round(o * (1 + rng.gauss(0, 0.0008)), 2)
    h = round(max(o, c) * (1 + abs(rng.gauss(0, 0.0003))), 2)
    lo = round(min(o, c) * (1 - abs(rng.gauss(0, 0.0003))), 2)
    volume = round(rng.uniform(3, 25), 5)
    trades = rng.randint(800, 6000)
    row = [
        open_ms, f"{o:.8f}", f"{h:.8f}", f"{lo:.8f}", f"{c:.8f}", f"{volume:.8f}",
        open_ms + step_ms - 1, f"{volume * (o + c) / 2:.8f}", trades,
        f"{volume / 2:.8f}", f"{volume * (o + c) / 4:.8f}", "0",
    ]  # fmt: skip
    return row, c


@dataclass
class KlineSeries:
    """Klines of one interval from ``first_ms`` for ``count`` steps, seeded."""

    first_ms: int
    step_ms: int
    count: int
    seed: int = 11
    rows: list[list] = field(init=False)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        recorded = json.loads((FIXTURES / "binance_klines_btcusdt_1m.json").read_text())
        self.rows = []
        if self.step_ms == 60_000 and self.first_ms == recorded[0][0]:
            self.rows = recorded[: self.count]  # the recorded klines first
        price = float(self.rows[-1][4]) if self.rows else 90360.0
        for i in range(len(self.rows), self.count):
            row, price = kline(self.first_ms + i * self.step_ms, self.step_ms, rng, price)
            self.rows.append(row)

    def between(self, start_ms: int, end_ms: int, limit: int) -> list[list]:
        return [r for r in self.rows if start_ms <= r[0] <= end_ms][:limit]


@dataclass
class HistoryServer:
    url: str
    series: dict[str, KlineSeries]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    answers: list[Override] = field(default_factory=list)
    used_weight: int = 0

    def klines_requests(self) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == "/api/v3/klines"]

    def answer(self, path: str, query: dict[str, str]) -> Answer:
        self.requests.append((path, query))
        for override in self.answers:
            got = override(path, query)
            if got is not None:
                return got
        if path == "/api/v3/klines":
            return self._klines(query)
        if path.startswith("/content/cm/"):
            return self._bhavcopy(path.rsplit("/", 1)[1])
        return 404, {"Content-Type": "text/plain"}, b"Not Found"

    def _klines(self, query: dict[str, str]) -> Answer:
        if query.get("symbol") != "BTCUSDT":
            return error("invalid_symbol")
        series = self.series[query["interval"]]
        rows = series.between(
            int(query["startTime"]), int(query["endTime"]), int(query.get("limit", 500))
        )
        self.used_weight += 2
        headers = {
            "Content-Type": "application/json;charset=UTF-8",
            "X-MBX-USED-WEIGHT-1M": str(self.used_weight),
        }
        return 200, headers, json.dumps(rows).encode()

    def _bhavcopy(self, name: str) -> Answer:
        csv_file = FIXTURES / name.removesuffix(".zip")
        if not name.endswith(".csv.zip") or not csv_file.is_file():
            return 404, {"Content-Type": "text/html"}, b"<html><body>Not Found</body></html>"
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(csv_file, csv_file.name)
        return 200, {"Content-Type": "application/zip"}, out.getvalue()


def serve(series: dict[str, KlineSeries]) -> Iterator[HistoryServer]:
    """Run the server on 127.0.0.1 (a free port) until the generator is closed."""
    holder: dict[str, HistoryServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
            status, headers, body = holder["server"].answer(parsed.path, query)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["server"] = HistoryServer(f"http://127.0.0.1:{httpd.server_address[1]}", series)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["server"]
    finally:
        httpd.shutdown()
        httpd.server_close()

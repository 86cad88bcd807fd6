"""Benchmark result format and runner helpers (see docs/performance.md).

A benchmark module ``bench/<name>.py`` exposes ``DESCRIPTION: str`` and
``run(quick: bool) -> list[Metric]``. Every metric is reported beside a
reference measured in the same run, as a ratio.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Metric:
    """One measured figure, its same-run reference and the target it is held to."""

    metric: str
    value: float
    unit: str
    reference: str | None = None
    reference_value: float | None = None
    target: str | None = None
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.reference_value in (None, 0):
            return None
        return self.value / self.reference_value


def machine() -> dict[str, object]:
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def write_results(name: str, metrics: Sequence[Metric]) -> Path:
    """Write ``bench/results/<name>.json`` in the documented format."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "name": name,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "metrics": [{**asdict(m), "ratio": m.ratio} for m in metrics],
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def format_table(name: str, metrics: Sequence[Metric]) -> str:
    """A plain-text table of one benchmark's metrics."""
    header = ("metric", "value", "unit", "reference", "ref value", "ratio", "target", "met")
    rows = [header]
    for m in metrics:
        rows.append(
            (
                m.metric,
                _fmt(m.value),
                m.unit,
                m.reference or "",
                _fmt(m.reference_value),
                _fmt(m.ratio),
                m.target or "",
                "" if m.met is None else ("yes" if m.met else "NO"),
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = [f"== {name}"]
    for r in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def timed(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> list[float]:
    """Run ``fn`` ``warmup`` times unmeasured, then ``repeat`` times; return the seconds."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)

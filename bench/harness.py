"""Benchmark harness: `python -m bench [NAME ...] [--json FILE]`.

Each `bench/bench_<name>.py` module has `async def run(ctx: BenchContext) -> list[Measurement]`.
A measurement compares the subject with a baseline measured in the same run on the same
machine, so results are ratios, not absolute timings that depend on the machine."""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table


@dataclass
class Measurement:
    name: str
    unit: str  # e.g. "msg/s", "ms"
    value: float
    baseline_name: str | None = None
    baseline_value: float | None = None
    higher_is_better: bool = True
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value


@dataclass
class BenchContext:
    """What a benchmark may use: a work directory and lazily started services."""

    work_dir: Path
    _cleanups: list[Callable[[], None]] = field(default_factory=list)
    _kafka: str | None = None
    _broker: object | None = None

    def kafka_bootstrap(self) -> str:
        if self._kafka is None:
            from tests.infra.kafka import start_test_broker

            bootstrap, broker = start_test_broker(self.work_dir)
            if broker is not None:
                self._cleanups.append(broker.stop)
            self._kafka, self._broker = bootstrap, broker
        return self._kafka

    def kafka_pid(self) -> int | None:
        """The local broker's process, None for an external cluster (or before kafka_bootstrap())."""
        return self._broker.running_pid() if self._broker is not None else None  # type: ignore[attr-defined]

    def add_cleanup(self, fn: Callable[[], None]) -> None:
        self._cleanups.append(fn)

    def close(self) -> None:
        for fn in reversed(self._cleanups):
            fn()


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def discover() -> list[str]:
    package_dir = Path(__file__).parent
    return sorted(m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(package_dir)]) if m.name.startswith("bench_"))


async def run_all(names: list[str]) -> dict[str, list[Measurement]]:
    results: dict[str, list[Measurement]] = {}
    with tempfile.TemporaryDirectory(prefix="touchpoint-bench-") as tmp:
        Path(tmp).chmod(0o755)
        ctx = BenchContext(work_dir=Path(tmp))
        try:
            for name in names:
                module = importlib.import_module(f"bench.bench_{name}")
                results[name] = await module.run(ctx)
        finally:
            ctx.close()
    return results


def render(results: dict[str, list[Measurement]], console: Console) -> None:
    table = Table(title="Touchpoint benchmarks (ratio = subject / baseline, same run)")
    for column in ("bench", "measurement", "value", "baseline", "ratio"):
        table.add_column(column, justify="right" if column in ("value", "baseline", "ratio") else "left")
    for bench, measurements in results.items():
        for m in measurements:
            baseline = f"{m.baseline_value:,.1f} {m.unit} ({m.baseline_name})" if m.baseline_value is not None else "-"
            ratio = f"{m.ratio:.2f}" if m.ratio is not None else "-"
            table.add_row(bench, m.name, f"{m.value:,.1f} {m.unit}", baseline, ratio)
    console.print(table)


def main(argv: list[str]) -> int:
    json_out = None
    if "--json" in argv:
        i = argv.index("--json")
        json_out = Path(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    available = discover()
    names = argv or available
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {available}", file=sys.stderr)
        return 2
    results = asyncio.run(run_all(names))
    render(results, Console())
    payload = {
        name: [{**asdict(m), "ratio": m.ratio} for m in measurements] for name, measurements in results.items()
    }
    out = json_out or Path("bench/results") / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str))
    print(f"results: {out}")
    return 0

"""Projection throughput with 1, 2 and 4 `touchpoint projector` processes on a 4-partition
topic into PostgreSQL, in one run: the same events, a fresh database per run. The rate is
taken between 5 % and 95 % of the events applied, so process start-up and the group's
first rebalance do not count. Each count runs twice, in the order 1, 2, 4, 2, 1, and the better
run counts: whichever ran first on the fresh broker and database was up to twice as slow as a
later run of the same count. Target: two processes reach at least 1.6 times one.

Size: TOUCHPOINT_BENCH_SCALE_EVENTS (default 40000)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from bench.bench_projector import ROOT, generate, publish
from bench.harness import BenchContext, Measurement
from services.projector.timeline.tables import TIMELINE
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.topics import ensure_for

EVENTS = int(os.environ.get("TOUCHPOINT_BENCH_SCALE_EVENTS", "40000"))
PROCESSES = (1, 2, 4)
ORDER = (1, 2, 4, 2, 1)
TIMEOUT_S = 900.0


def start_projectors(count: int, settings: Settings, url: str, work: Path) -> list[subprocess.Popen]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOUCHPOINT_")}
    env.update(TOUCHPOINT_KAFKA_BOOTSTRAP=settings.bootstrap_servers, TOUCHPOINT_TOPIC_PREFIX=settings.topic_prefix,
               TOUCHPOINT_DATABASE_URL=url, TOUCHPOINT_DATA_DIR=str(work), TOUCHPOINT_PROJECTOR_METRICS_PORT="0",
               TOUCHPOINT_LOG_LEVEL="WARNING",
               TOUCHPOINT_PRIVACY_ENCRYPT="false")  # the events are plaintext; `bench privacy` measures sealing
    work.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen([sys.executable, "-m", "shared.cli", "projector"], cwd=ROOT, env=env,
                             stdout=open(work / f"projector-{n}.log", "wb"), stderr=subprocess.STDOUT)
            for n in range(count)]


async def applied_rate(url: str, total: int, processes: list[subprocess.Popen], work: Path) -> float:
    engine = make_engine(url)
    marks: dict[float, float] = {}
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(marks) < 2:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"projectors stopped or timed out; their logs are in {work}")
            async with engine.connect() as conn:
                done = await conn.scalar(select(func.count()).select_from(TIMELINE.applied))
            now = time.monotonic()
            for share in (0.05, 0.95):
                if share not in marks and done >= share * total:
                    marks[share] = now
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    return 0.9 * total / max(marks[0.95] - marks[0.05], 1e-6)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


async def run(ctx: BenchContext) -> list[Measurement]:
    from tests.infra.postgres import create_database, start_cluster

    cluster = start_cluster(ctx.work_dir / "pg-scale")
    ctx.add_cleanup(cluster.stop)
    settings = Settings(kafka_bootstrap=ctx.kafka_bootstrap(), topic_prefix=f"bench.scale.{uuid.uuid4().hex[:8]}.",
                        topic_partitions=4, data_dir=ctx.work_dir / "scale")  # topics of this run only
    await ensure_for(settings)
    events = generate(EVENTS, min(1000, EVENTS // 20))
    await publish(settings, events)
    runs: dict[int, list[float]] = {count: [] for count in PROCESSES}
    for round_number, count in enumerate(ORDER):
        url = await create_database(cluster)
        await upgrade_async(url)
        work = ctx.work_dir / f"scale-{round_number}-{count}"
        processes = start_projectors(count, settings, url, work)
        try:
            runs[count].append(await applied_rate(url, len(events), processes, work))
        finally:
            stop(processes)
        print(f"{count} projector process(es): {runs[count][-1]:,.0f} events/s")
    rates = {count: max(found) for count, found in runs.items()}
    verdict = "met" if rates[2] >= 1.6 * rates[1] else "NOT met"
    print(f"two processes reach {rates[2] / rates[1]:.2f} times one (target 1.6: {verdict}); "
          f"four reach {rates[4] / rates[1]:.2f} times one; {os.cpu_count()} CPU cores here")
    notes = {"events": len(events), "partitions": 4, "cpu_cores": os.cpu_count(),
             "runs": {str(count): [round(rate) for rate in found] for count, found in runs.items()}}
    return [Measurement(f"projection with {count} processes", "events/s", rates[count], "1 process", rates[1],
                        notes=notes) for count in PROCESSES[1:]]
